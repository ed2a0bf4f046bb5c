#include "model_args.h"

#include <omp.h>

#include "layerlab/cuda_backend.h"
#include "layerlab/error.h"

namespace layerlab::cli {

const std::set<std::string>& model_options() {
  static const std::set<std::string> opts = {"model", "device", "plan", "variant", "n", "k", "seed", "threads", "dtype"};
  return opts;
}

LoadedModel open_model(const Args& args) {
  LoadedModel m;
  if (args.has("threads")) omp_set_num_threads(static_cast<int>(args.get_int("threads", 1)));
  const std::string device = args.get("device", "cpu");
  const std::string dtype = args.get("dtype", "f32");
  const int gpu = parse_device(device);
  if (gpu < 0 && dtype != "f32") fail("--dtype", "the cpu device computes in f32 only");
  const CudaDType cuda_dtype = parse_cuda_dtype(dtype);
  m.model = load_model(args.require("model"));
  m.backend = gpu < 0 ? make_cpu_backend(*m.model) : make_cuda_backend(*m.model, cuda_dtype, gpu);
  return m;
}

Plan plan_from_args(const Args& args, const ModelConfig& cfg) {
  Plan plan;
  if (args.has("plan") && args.has("variant")) fail("--plan", "give either --plan or --variant, not both");
  if (args.has("plan")) {
    plan = parse_plan_arg(args.get("plan"));
  } else if (args.has("variant")) {
    const std::string v = args.get("variant");
    if (v != "full" && !args.has("n")) fail("--n", "--variant " + v + " needs --n");
    plan = make_variant(v, cfg.n_layer, static_cast<int>(args.get_int("n", 0)), static_cast<int>(args.get_int("k", 3)),
                        static_cast<uint64_t>(args.get_int("seed", 0)));
  } else {
    plan = full_plan(cfg.n_layer);
  }
  validate_plan(plan, cfg.n_layer);
  return plan;
}

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    const std::string tok = s.substr(i, j - i);
    char* end = nullptr;
    const long v = std::strtol(tok.c_str(), &end, 10);
    if (tok.empty() || *end != '\0' || v < 0 || v > INT32_MAX) fail("--ids", "'" + tok + "' is not a token id");
    ids.push_back(static_cast<int32_t>(v));
    i = j + 1;
  }
  if (ids.empty()) fail("--ids", "no token ids given");
  return ids;
}

}  // namespace layerlab::cli
