#pragma once
// Helpers for the export tests: a scratch folder, logits of a model under a plan.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "golden.h"
#include "layerlab/backend.h"
#include "layerlab/export.h"
#include "layerlab/model.h"
#include "layerlab/plan.h"
#include "layerlab/runner.h"

namespace layerlab::testing {

// A fresh, empty folder under the temporary directory, removed when the object goes.
struct ScratchDir {
  std::string path;
  explicit ScratchDir(const std::string& name)
      : path((std::filesystem::temp_directory_path() / ("layerlab_export_" + std::to_string(::getpid()) + "_" + name))
                 .string()) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
  std::string operator/(const std::string& leaf) const { return path + "/" + leaf; }
};

// 24 fixed token ids spread over the vocabulary (BOS first).
inline std::vector<int32_t> test_ids(const ModelConfig& c) {
  std::vector<int32_t> ids = {c.bos_id >= 0 ? c.bos_id : 0};
  for (int t = 1; t < 24; ++t) ids.push_back(int32_t((int64_t(t) * 7919 + 13) % c.vocab));
  return ids;
}

// Logits of every position of `ids` under `plan` (CPU, float32 activations).
inline std::vector<float> plan_logits(const Model& m, const Plan& plan, const std::vector<int32_t>& ids) {
  auto backend = make_cpu_backend(m);
  Runner runner(m, *backend);
  ForwardRequest req;
  req.ids = ids;
  req.all_logits = true;
  return runner.forward(plan, req).logits;
}

// Mean log p of each next token of `ids` under the full model.
inline double mean_logprob(const Model& m, const std::vector<int32_t>& ids) {
  auto backend = make_cpu_backend(m);
  Runner runner(m, *backend);
  ForwardRequest req;
  req.ids = ids;
  req.logprobs_next = true;
  const auto lp = runner.forward(full_plan(m.config().n_layer), req).logprobs_next;
  double sum = 0;
  for (float v : lp) sum += v;
  return sum / double(lp.size());
}

inline ExportOptions export_options(const std::string& format, const std::string& dtype = "") {
  ExportOptions o;
  o.format = format;
  o.dtype = dtype;
  return o;
}

}  // namespace layerlab::testing
