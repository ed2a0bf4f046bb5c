// layerlab plot results.jsonl --out DIR [--similarity similarity.json]
// SVG figures of a sweep: score vs N per variant for each task, the median normalised
// score of every variant on one chart (the paper's Figure 11), and a similarity heatmap.
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
  Options o("plot", "SVG figures of sweep results (score vs N per task, the normalised summary) and similarity "
                    "heatmaps", "[results.jsonl] --out DIR [--similarity similarity.json]");
  std::string out, similarity;
  std::vector<std::string> files;
  o.required(o.text("--out", out, "DIR", "folder for the figures (created)"));
  o.text("--similarity", similarity, "FILE", "also draw the heatmap of this similarity JSON (from layerlab similarity)",
         "none");
  o.positional("results", files, "a sweep's results file (JSON lines)");
  if (!o.parse(argv)) return 0;
  std::vector<std::string> written;
  if (files.size() > 1) fail(files[1], "give one results file");
  if (files.empty() && !o.given("--similarity")) fail("plot", "give a results file and/or --similarity FILE");
  if (o.given("--similarity") && !file_exists(similarity)) fail(similarity, "similarity file not found");
  if (!files.empty()) {
    const std::string path = files[0];
    if (!file_exists(path)) fail(path, "results file not found");
    const auto records = read_sweep_results(path);
    if (records.empty()) fail(path, "no results to plot");
    written = plot_sweep(records, out);
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
    write_file_atomic(svg_path, similarity_heatmap_svg(j, "Mean cosine similarity between steps (" + name + ")", path));
    written.push_back(svg_path);
  }
  for (const auto& w : written) std::printf("wrote %s\n", w.c_str());
  return 0;
}

}  // namespace layerlab::cli
