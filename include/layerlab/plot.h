#pragma once
// Figures of a sweep as hand-written SVG: score vs N per variant for each task, the median
// normalised score of every variant on one chart (the paper's Figure 11), and similarity
// heatmaps from `layerlab similarity` JSON; PNG / PDF copies through rsvg-convert.
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace layerlab {

struct Series {
  std::string name;
  std::vector<double> x, y;
  std::vector<double> lo, hi;  // optional error bars (y - stderr, y + stderr), per point
};
struct RefLine {
  std::string name;
  double y = 0;
  double band = 0;  // +- this around the line is shaded (e.g. the full model's standard error)
};
struct LineChart {
  std::string title, subtitle, x_label, y_label;
  std::vector<Series> series;
  std::vector<RefLine> hlines;  // labelled horizontal references (full model, chance)
  bool log_y = false;           // logarithmic y axis (needs every value > 0)
  bool integer_x = true;        // x ticks at whole numbers only (N)
};
std::string line_chart_svg(const LineChart& chart);
// "Nice" tick values covering [lo, hi] (about `count` of them): 1, 2, 2.5 or 5 times a power of ten.
std::vector<double> nice_ticks(double lo, double hi, int count = 6);
// Ticks of a log axis over [lo, hi] (lo > 0): 1-2-5 per decade, or 1..9 when the range is short.
std::vector<double> log_ticks(double lo, double hi);
// Whether values (all > 0) span enough (max / min >= 10) for a log axis to read better.
bool spans_decades(const std::vector<double>& values);

// The name a figure gives a model: config.json's "_name_or_path" (its last part) when set, else
// the folder's own name, however the path was typed ("./m/", "/abs/m" and "m" are all "m").
std::string model_display_name(const std::string& model_dir);

struct PlotOptions {
  std::string model_name;                 // empty: from the results' "model" field
  std::vector<std::string> formats = {"svg"};  // also "png" and / or "pdf" (beside each SVG)
};
// Writes <task>.svg per task and normalised_median.svg into out_dir (and the other formats);
// returns the paths.
std::vector<std::string> plot_sweep(const std::vector<nlohmann::json>& records, const std::string& out_dir,
                                    const PlotOptions& options = {});

// Colour range of a similarity heatmap: NaN = from the data (lowest value .. 1). A fixed range
// lets heatmaps of several models be compared side by side; values outside it are clamped.
struct HeatmapRange {
  double vmin = NAN, vmax = NAN;
};
// A heatmap SVG from {"labels": [...], "matrix": [[...]]}; Error naming `where` if malformed.
std::string similarity_heatmap_svg(const nlohmann::json& sim, const std::string& title, const std::string& where,
                                   const HeatmapRange& range = {});

// Formats a figure may be written in, parsed from "svg,png,pdf"; Error naming `flag` otherwise,
// or when png / pdf are asked for and rsvg-convert is not installed (checked before any work).
std::vector<std::string> parse_figure_formats(const std::string& list, const std::string& flag);
// Writes svg_path's PNG (2x scale) or PDF copy beside it (same stem) with rsvg-convert; returns its path.
std::string convert_svg(const std::string& svg_path, const std::string& format);
// Writes the SVG, then its copies in the other formats; returns every path written.
std::vector<std::string> write_figure(const std::string& svg_path, const std::string& svg,
                                      const std::vector<std::string>& formats);

}  // namespace layerlab
