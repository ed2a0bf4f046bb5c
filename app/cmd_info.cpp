// layerlab info --model PATH: what the folder (or GGUF file) holds.
#include <cstdio>
#include <map>
#include <string>

#include "commands.h"
#include "layerlab/bos_policy.h"
#include "layerlab/error.h"
#include "layerlab/gguf.h"
#include "layerlab/tokenizer.h"
#include "model_args.h"

namespace layerlab::cli {

int cmd_info(const Argv& argv) {
  Options o("info", "architecture, sizes and parameter count of a model folder (reads config.json and the "
                    "safetensors headers) or of a GGUF file (its metadata and tensor table)");
  ModelArgs m;
  add_model_option(o, m);
  if (!o.parse(argv)) return 0;
  auto model = load_model(m.model);
  const ModelConfig& c = model->config();
  // The BOS policy every text-taking command follows (--add-bos / --no-add-bos override it);
  // found before printing, so a bad add_bos_token is an error before any output.
  std::unique_ptr<Tokenizer> tok;
  std::string bos_line;
  try {
    tok = load_tokenizer(m.model);
  } catch (const Error& e) {
    bos_line = std::string("bos           unknown: no tokenizer (") + e.what() + ")\n";
  }
  if (tok) {
    const BosPolicy bos = bos_policy(m.model, *tok);
    bos_line = std::string("bos           ") + (bos.add ? "added" : "not added") + " (" + bos.source + ")\n";
  }
  std::printf("model         %s\n", model->dir().c_str());
  std::printf("family        %s (model_type %s)\n", c.family.c_str(), c.model_type.c_str());
  std::printf("layers        %d\n", c.n_layer);
  std::printf("width         %d (heads %d x %d, kv heads %d)\n", c.d_model, c.n_head, c.head_dim, c.n_kv_head);
  std::printf("mlp           %d (%s)\n", c.d_ff, activation_name(c.act));
  std::printf("vocab         %d\n", c.vocab);
  std::printf("positions     %s, %d\n", c.positions == Positions::Rope ? "rope" : "learned", c.max_positions);
  if (c.positions == Positions::Rope)
    std::printf("rope          theta %g, type %s\n", c.rope.theta, c.rope.type.c_str());
  std::printf("norm          %s, eps %g, %s\n", c.norm == NormKind::RMSNorm ? "rmsnorm" : "layernorm", c.norm_eps,
              c.post_norm ? "post-norm" : "pre-norm");
  std::printf("attention     %s\n", c.causal ? "causal" : "bidirectional");
  if (c.block != BlockKind::Standard)
    std::printf("block         %s%s (docs/TRAINING.md)\n", block_kind_name(c.block), c.block_norms ? "" : ", no norms");
  std::printf("head          %s\n", c.tied_head ? "tied to embeddings" : "separate");
  std::printf("parameters    %lld (%.2fM)\n", static_cast<long long>(model->parameter_count()),
              model->parameter_count() / 1e6);
  std::printf("dtype         %s (computed in float32)\n", c.weight_dtype.c_str());
  std::string types;
  for (const auto& [type, values] : model->resident_types())
    types += (types.empty() ? "" : ", ") + type + " " + std::to_string(values);
  std::printf("resident      %.2f MB of weights in memory (values by type: %s)\n", model->resident_bytes() / 1e6,
              types.c_str());
  std::printf("%s", bos_line.c_str());
  for (const auto& f : model->files())
    std::printf("file          %s (%.2f MB)\n", f.path.c_str(), f.bytes / 1e6);
  if (is_gguf_file(m.model)) {
    const GgufFile g(m.model);
    std::map<std::string, std::pair<int, uint64_t>> tensor_types;  // count, bytes
    for (const auto& t : g.tensors()) {
      auto& [n, bytes] = tensor_types[weight_type_name(t.type)];
      ++n;
      bytes += t.bytes;
    }
    std::printf("gguf          version %u, %zu metadata keys, %zu tensors, alignment %llu\n", g.version(),
                g.keys().size(), g.tensors().size(), static_cast<unsigned long long>(g.alignment()));
    for (const auto& [name, v] : tensor_types)
      std::printf("tensors       %-5s %4d (%.2f MB)\n", name.c_str(), v.first, v.second / 1e6);
  }
  return 0;
}

}  // namespace layerlab::cli
