// layerlab similarity --model DIR (--text-file F | --ids-file F) [--plan P] [--max-tokens 512] [--limit K]
//                     [--out PREFIX] [--vmin V --vmax V] [--format svg,png,pdf]
// Mean cosine similarity between hidden states after every pair of plan steps.
#include <cmath>
#include <cstdio>

#include "commands.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/progress.h"
#include "layerlab/plot.h"
#include "layerlab/similarity.h"
#include "model_args.h"
#include "text_input.h"

namespace layerlab::cli {

int cmd_similarity(const Argv& argv) {
  Options o("similarity", "mean cosine similarity of hidden states between every pair of plan steps: "
                          "PREFIX.csv, PREFIX.json and a PREFIX.svg heatmap");
  ModelArgs ma;
  PlanArgs pa;
  SequenceArgs sa;
  std::string prefix = "similarity", formats_text = "svg";
  double vmin = NAN, vmax = NAN;
  add_model_options(o, ma);
  add_sequence_options(o, sa);
  add_plan_options(o, pa);
  o.text("--out", prefix, "PREFIX", "output files: PREFIX.csv, PREFIX.json, PREFIX.svg");
  o.number("--vmin", vmin, "lowest value of the heatmap's colour range (fix it to compare models side by side)", -1, 1,
           "the lowest similarity");
  o.number("--vmax", vmax, "highest value of the heatmap's colour range", -1, 1, "1");
  o.text("--format", formats_text, "LIST", "heatmap formats, comma-separated: svg, png, pdf (png and pdf need "
                                           "rsvg-convert; the SVG is always written)");
  if (!o.parse(argv)) return 0;
  if (std::isfinite(vmin) && !(vmin < (std::isfinite(vmax) ? vmax : 1.0))) fail("--vmin", "must be below --vmax");
  if (std::isfinite(vmax) && !std::isfinite(vmin) && vmax <= 0) fail("--vmax", "give --vmin too when --vmax is this low");
  const std::vector<std::string> formats = parse_figure_formats(formats_text, "--format");
  check_sequence_args(o);
  check_plan_args(o, pa);
  check_output_path(prefix + ".csv", "--out");  // before the work, not after
  LoadedModel m = open_model(ma);
  const ModelConfig& cfg = m.model->config();
  const Plan plan = plan_from_args(o, pa, cfg);
  int max_tokens = sa.max_tokens;
  if (cfg.positions == Positions::Learned && max_tokens > cfg.max_positions) {
    if (o.given("--max-tokens"))
      fail("--max-tokens", std::to_string(max_tokens) + " exceeds the model's context of " +
                               std::to_string(cfg.max_positions) + " tokens");
    max_tokens = cfg.max_positions;  // the default, 512, is only an upper bound
  }
  const auto seqs = sequences_from_files(o, sa, *m.model, max_tokens);
  Runner runner(*m.model, *m.backend);
  Progress bar("similarity", static_cast<int64_t>(seqs.size()), "windows");
  SimilarityResult r = layer_similarity(runner, plan, seqs, [&](int) { bar.add(); });
  bar.finish();
  write_file_atomic(prefix + ".csv", similarity_to_csv(r));
  write_file_atomic(prefix + ".json", similarity_to_json(r));
  const std::string title = model_display_name(ma.model) + ": layer similarity, plan " + plan_to_text(plan);
  write_figure(prefix + ".svg", similarity_to_svg(r, title, vmin, vmax), formats);
  std::printf("%d windows, %lld tokens; wrote %s.csv, %s.json, %s.svg\n", r.texts, static_cast<long long>(r.tokens),
              prefix.c_str(), prefix.c_str(), prefix.c_str());
  return 0;
}

}  // namespace layerlab::cli
