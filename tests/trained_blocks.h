#pragma once
// Helpers for tests of models in `layerlab train`'s own format (layerlab_config.json +
// model.safetensors with the trainer's names): build one with the training library, read one
// back into the trainer's Transformer, and compute losses with both implementations.
#include <cmath>
#include <filesystem>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerlab/fs.h"
#include "layerlab/runner.h"
#include "layerlab/safetensors.h"
#include "layerlab/train.h"

namespace layerlab::testing {

// The four block types and their norm-free variants, as (block, norm).
struct BlockCase {
  BlockKind block;
  bool norm;
  std::string name() const { return std::string(block_kind_name(block)) + (norm ? "" : "_nonorm"); }
};
inline void PrintTo(const BlockCase& c, std::ostream* os) { *os << c.name(); }  // gtest
inline std::vector<BlockCase> all_block_cases() {
  return {{BlockKind::PreLN, true},  {BlockKind::Parallel, true}, {BlockKind::SAS, true},
          {BlockKind::SASP, true},   {BlockKind::SAS, false},     {BlockKind::SASP, false}};
}

inline train::ModelShape tiny_shape(BlockCase c, int layers = 3) {
  train::ModelShape s;
  s.block = c.block;
  s.norm = c.norm;
  s.n_layer = layers;
  s.d_model = 32;
  s.n_head = 4;
  s.d_ff = 48;
  s.vocab = 101;
  s.context = 24;
  return s;
}

// Initialises and then perturbs every tensor (so zero queries, zero value extras and unit
// gains do not hide a path): w += 0.15 N(0, 1), embeddings w += 0.5 N(0, 1) so that the tied
// head gives sharp predictions (a loss far from log(vocab) is sensitive to every part).
inline void perturbed_init(train::Transformer<float>& m, uint64_t seed) {
  m.init(seed);
  std::mt19937_64 rng(seed + 7);
  std::normal_distribution<float> n(0.0f, 1.0f);
  for (const auto& t : m.layout())
    for (int64_t i = 0; i < t.numel; ++i) m.params()[t.offset + i] += (t.embedding ? 0.5f : 0.15f) * n(rng);
}

// Writes `m` in the trainer's own format: model.safetensors (trainer names, Linear layout) +
// layerlab_config.json. export_model does this for every block but preln (a GPT-2 folder).
inline void write_layerlab_folder(const train::Transformer<float>& m, const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::vector<OutTensor> out;
  for (const auto& t : m.layout()) {
    OutTensor o;
    o.name = t.name;
    o.shape = t.shape;
    o.f32.assign(m.params().begin() + t.offset, m.params().begin() + t.offset + t.numel);
    out.push_back(std::move(o));
  }
  write_safetensors(dir + "/model.safetensors", out, {{"format", "layerlab-train"}});
  nlohmann::json cfg = m.shape().to_json();
  cfg["format"] = "layerlab-train";
  write_file_atomic(dir + "/layerlab_config.json", cfg.dump(2));
}

// The trainer's Transformer with the weights of a layerlab-format folder. `rename` maps a
// tensor name of the new model to the name to read (for plans: layer l of the new model is
// layer plan[l] of the file).
inline std::unique_ptr<train::Transformer<float>> read_trainer(const std::string& dir,
                                                               const std::vector<int>& layer_map = {}) {
  const nlohmann::json j = nlohmann::json::parse(read_text_file(dir + "/layerlab_config.json"));
  train::ModelShape s = train::ModelShape::from_json(j, dir);
  if (!layer_map.empty()) s.n_layer = static_cast<int>(layer_map.size());
  auto m = std::make_unique<train::Transformer<float>>(s);
  SafetensorsFile st(dir + "/model.safetensors");
  for (const auto& t : m->layout()) {
    std::string name = t.name;
    if (!layer_map.empty() && name.rfind("h.", 0) == 0) {
      const size_t dot = name.find('.', 2);
      const int l = std::stoi(name.substr(2, dot - 2));
      name = "h." + std::to_string(layer_map[l]) + name.substr(dot);
    }
    const std::vector<float> w = st.read_f32(name);
    std::copy(w.begin(), w.end(), m->params().begin() + t.offset);
  }
  return m;
}

// Deterministic token windows of `len + 1` tokens over a vocabulary of `vocab`.
inline std::vector<std::vector<int32_t>> windows(int count, int len, int vocab, uint64_t seed = 3) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<int32_t>> out(count);
  for (auto& w : out)
    for (int i = 0; i <= len; ++i) w.push_back(static_cast<int32_t>(rng() % vocab));
  return out;
}

// Mean next-token loss of one window through the inference engine under `plan`.
inline double engine_loss(Runner& runner, const Plan& plan, const std::vector<int32_t>& window) {
  ForwardRequest req;
  req.ids = window;
  req.logprobs_next = true;
  const ForwardResult r = runner.forward(plan, req);
  double loss = 0;
  for (float lp : r.logprobs_next) loss -= lp;
  return loss / r.logprobs_next.size();
}

// The same through the trainer's forward.
inline double trainer_loss(train::Transformer<float>& m, const std::vector<int32_t>& window) {
  std::vector<int32_t> in(window.begin(), window.end() - 1), tgt(window.begin() + 1, window.end());
  return m.forward(in.data(), tgt.data(), 1, static_cast<int>(in.size()));
}

}  // namespace layerlab::testing
