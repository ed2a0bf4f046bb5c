// layerlab plot results.jsonl --out DIR [--similarity similarity.json] [--format svg,png,pdf]
//                [--model-name NAME] [--vmin V --vmax V]
// Figures of a sweep: score vs N per variant for each task, the median normalised score of
// every variant on one chart (the paper's Figure 11), and a similarity heatmap; SVG, and PNG /
// PDF beside it through rsvg-convert.
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "args.h"
#include "commands.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/plot.h"
#include "layerlab/sweep.h"
#include "util/json_depth.h"

namespace layerlab::cli {

int cmd_plot(const Argv& argv) {
  Options o("plot", "figures of sweep results (score vs N per task, the normalised summary) and similarity "
                    "heatmaps: SVG, and PNG / PDF beside it",
            "[results.jsonl] --out DIR [--similarity similarity.json] [--format svg,png,pdf]");
  std::string out, similarity, formats_text = "svg", model_name;
  double vmin = NAN, vmax = NAN;
  std::vector<std::string> files;
  o.required(o.text("--out", out, "DIR", "folder for the figures (created)"));
  o.text("--similarity", similarity, "FILE", "also draw the heatmap of this similarity JSON (from layerlab similarity)",
         "none");
  o.text("--format", formats_text, "LIST", "comma-separated: svg, png, pdf (png and pdf need rsvg-convert; the SVG is "
                                           "always written)");
  o.text("--model-name", model_name, "NAME", "the model's name in the titles", "from the results' model folder");
  o.number("--vmin", vmin, "lowest value of the heatmap's colour range (same range for several models)", -1, 1,
           "the lowest similarity");
  o.number("--vmax", vmax, "highest value of the heatmap's colour range", -1, 1, "1");
  o.positional("results", files, "a sweep's results file (JSON lines)");
  if (!o.parse(argv)) return 0;
  std::vector<std::string> written;
  if (files.size() > 1) fail(files[1], "give one results file");
  if (files.empty() && !o.given("--similarity")) fail("plot", "give a results file and/or --similarity FILE");
  if (o.given("--similarity") && !file_exists(similarity)) fail(similarity, "similarity file not found");
  if ((o.given("--vmin") || o.given("--vmax")) && !o.given("--similarity"))
    fail(o.given("--vmin") ? "--vmin" : "--vmax", "sets the similarity heatmap's colours: give --similarity FILE");
  if (std::isfinite(vmin) && std::isfinite(vmax) && !(vmin < vmax)) fail("--vmin", "must be below --vmax");
  if (std::isfinite(vmin) && !std::isfinite(vmax) && vmin >= 1) fail("--vmin", "must be below --vmax (1)");
  const std::vector<std::string> formats = parse_figure_formats(formats_text, "--format");  // before any work
  if (!files.empty()) {
    const std::string path = files[0];
    if (!file_exists(path)) fail(path, "results file not found");
    const auto records = read_sweep_results(path);
    if (records.empty()) fail(path, "no results to plot");
    written = plot_sweep(records, out, {model_name, formats});
  }
  if (o.given("--similarity")) {
    const std::string& path = similarity;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(depth_checked(read_text_file(path), path));
    } catch (const nlohmann::json::parse_error& e) {
      fail(path, std::string("not valid JSON: ") + e.what());
    }
    std::filesystem::create_directories(out);
    const std::string name = std::filesystem::path(path).stem().string();
    const std::string svg_path = (std::filesystem::path(out) / (name + "_heatmap.svg")).string();
    const std::string title = (model_name.empty() ? name : model_name) + ": layer similarity";
    const auto w = write_figure(svg_path, similarity_heatmap_svg(j, title, path, {vmin, vmax}), formats);
    written.insert(written.end(), w.begin(), w.end());
  }
  for (const auto& w : written) std::printf("wrote %s\n", w.c_str());
  return 0;
}

}  // namespace layerlab::cli
