// layerlab similarity --model DIR --text-file F [--plan P] [--max-tokens 512] [--limit K] [--out PREFIX]
// Mean cosine similarity between hidden states after every pair of plan steps.
#include <cstdio>

#include "commands.h"
#include "layerlab/fs.h"
#include "layerlab/progress.h"
#include "layerlab/similarity.h"
#include "model_args.h"
#include "text_input.h"

namespace layerlab::cli {

int cmd_similarity(const Argv& argv) {
  auto opts = model_options();
  opts.insert({"text-file", "ids-file", "max-tokens", "limit", "out"});
  Args args(argv, opts);
  check_output_path(args.get("out", "similarity") + ".csv", "--out");  // before the work, not after
  LoadedModel m = open_model(args);
  const ModelConfig& cfg = m.model->config();
  const Plan plan = plan_from_args(args, cfg);
  int max_tokens = static_cast<int>(args.get_int("max-tokens", 512));
  if (cfg.positions == Positions::Learned) max_tokens = std::min(max_tokens, cfg.max_positions);
  const auto seqs = sequences_from_files(args, *m.model, max_tokens, static_cast<int>(args.get_int("limit", 0)));
  Runner runner(*m.model, *m.backend);
  Progress bar("similarity", static_cast<int64_t>(seqs.size()), "windows");
  SimilarityResult r = layer_similarity(runner, plan, seqs, [&](int) { bar.add(); });
  bar.finish();
  const std::string prefix = args.get("out", "similarity");
  write_file_atomic(prefix + ".csv", similarity_to_csv(r));
  write_file_atomic(prefix + ".json", similarity_to_json(r));
  write_file_atomic(prefix + ".svg", similarity_to_svg(r, "Mean cosine similarity of hidden states: " + m.model->dir() +
                                                              ", plan " + plan_to_text(plan)));
  std::printf("%d windows, %lld tokens; wrote %s.csv, %s.json, %s.svg\n", r.texts, static_cast<long long>(r.tokens),
              prefix.c_str(), prefix.c_str(), prefix.c_str());
  return 0;
}

}  // namespace layerlab::cli
