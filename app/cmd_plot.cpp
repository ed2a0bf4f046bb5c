// layerlab plot results.jsonl --out DIR [--similarity similarity.json]
// SVG figures of a sweep: score vs N per variant for each task, the median normalised
// score of every variant on one chart (the paper's Figure 11), and a similarity heatmap.
#include <cstdio>
#include <filesystem>

#include "args.h"
#include "commands.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/plot_svg.h"
#include "layerlab/sweep_runner.h"
#include "util/json_depth.h"

namespace layerlab::cli {

int cmd_plot(const Argv& argv) {
  Args args(argv, {"out", "similarity"});
  const std::string out = args.require("out");
  std::vector<std::string> written;
  if (args.positional().size() > 1) fail(args.positional()[1], "give one results file");
  if (args.positional().empty() && !args.has("similarity")) fail("plot", "give a results file and/or --similarity FILE");
  if (!args.positional().empty()) {
    const std::string path = args.positional()[0];
    if (!file_exists(path)) fail(path, "results file not found");
    const auto records = read_sweep_results(path);
    if (records.empty()) fail(path, "no results to plot");
    written = plot_sweep(records, out);
  }
  if (args.has("similarity")) {
    const std::string path = args.get("similarity");
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
