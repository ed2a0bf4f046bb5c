#pragma once
// Figures of a sweep as hand-written SVG: score vs N per variant for each task, the median
// normalised score of every variant on one chart (the paper's Figure 11), and similarity
// heatmaps from `layerlab similarity` JSON.
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace layerlab {

struct Series {
  std::string name;
  std::vector<double> x, y;
  std::vector<double> lo, hi;  // optional whiskers (e.g. min/max over shuffle seeds)
};
struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  std::vector<std::pair<std::string, double>> hlines;  // labelled horizontal references (full model, chance)
};
std::string line_chart_svg(const LineChart& chart);
// "Nice" tick values covering [lo, hi] (about `count` of them).
std::vector<double> nice_ticks(double lo, double hi, int count = 6);

// Writes <task>.svg per task and normalised_median.svg into out_dir; returns the paths.
std::vector<std::string> plot_sweep(const std::vector<nlohmann::json>& records, const std::string& out_dir);
// A heatmap SVG from {"labels": [...], "matrix": [[...]]}; Error naming `where` if malformed.
std::string similarity_heatmap_svg(const nlohmann::json& sim, const std::string& title, const std::string& where);

}  // namespace layerlab
