// Line charts and sweep figures as plain SVG text.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/plot.h"
#include "layerlab/similarity.h"
#include "layerlab/sweep.h"
#include "util/svg.h"

namespace layerlab {

using nlohmann::json;

std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (!(hi > lo)) {
    hi = lo + 1;
    lo -= 1;
  }
  const double raw = (hi - lo) / std::max(1, count - 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) t.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
  return t;
}

namespace {

// Tableau-10: distinguishable line colours.
const char* kColours[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                          "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", std::abs(v) < 1e-12 ? 0.0 : v);
  return b;
}

}  // namespace

std::string line_chart_svg(const LineChart& c) {
  const int W = 760, H = 460, left = 70, right = 190, top = 48, bottom = 58;
  const int pw = W - left - right, ph = H - top - bottom;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  auto see_y = [&](double v) {
    if (std::isfinite(v)) y0 = std::min(y0, v), y1 = std::max(y1, v);
  };
  for (const Series& s : c.series) {
    for (double v : s.x)
      if (std::isfinite(v)) x0 = std::min(x0, v), x1 = std::max(x1, v);
    for (double v : s.y) see_y(v);
    for (double v : s.lo) see_y(v);
    for (double v : s.hi) see_y(v);
  }
  for (const auto& [_, v] : c.hlines) see_y(v);
  if (!std::isfinite(x0)) x0 = 0, x1 = 1;
  if (!std::isfinite(y0)) y0 = 0, y1 = 1;
  if (x1 == x0) x0 -= 1, x1 += 1;
  if (y1 == y0) y0 -= 0.5, y1 += 0.5;
  const std::vector<double> xt = nice_ticks(x0, x1), yt = nice_ticks(y0, y1);
  x0 = std::min(x0, xt.front()), x1 = std::max(x1, xt.back());
  y0 = std::min(y0, yt.front()), y1 = std::max(y1, yt.back());
  auto X = [&](double v) { return left + (v - x0) / (x1 - x0) * pw; };
  auto Y = [&](double v) { return top + ph - (v - y0) / (y1 - y0) * ph; };
  std::string s;
  char b[512];
  std::snprintf(b, sizeof b,
                "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif' font-size='12'>\n"
                "<rect width='100%%' height='100%%' fill='white'/>\n"
                "<text x='%d' y='26' font-size='15' text-anchor='middle'>%s</text>\n",
                W, H, left + pw / 2, svg::escape(c.title).c_str());
  s += b;
  for (double t : yt) {  // grid and ticks
    std::snprintf(b, sizeof b,
                  "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#e6e6e6'/>\n"
                  "<text x='%d' y='%.1f' text-anchor='end' dominant-baseline='middle'>%s</text>\n",
                  left, Y(t), left + pw, Y(t), left - 6, Y(t), fmt(t).c_str());
    s += b;
  }
  for (double t : xt) {
    std::snprintf(b, sizeof b,
                  "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#e6e6e6'/>\n"
                  "<text x='%.1f' y='%d' text-anchor='middle'>%s</text>\n",
                  X(t), top, X(t), top + ph, X(t), top + ph + 18, fmt(t).c_str());
    s += b;
  }
  std::snprintf(b, sizeof b,
                "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#333'/>\n"
                "<text x='%d' y='%d' text-anchor='middle'>%s</text>\n"
                "<text x='18' y='%d' text-anchor='middle' transform='rotate(-90 18 %d)'>%s</text>\n",
                left, top, pw, ph, left + pw / 2, H - 14, svg::escape(c.x_label).c_str(), top + ph / 2, top + ph / 2,
                svg::escape(c.y_label).c_str());
  s += b;
  int legend_y = top + 8;
  for (size_t i = 0; i < c.hlines.size(); ++i) {
    const auto& [name, v] = c.hlines[i];
    const char* dash = i == 0 ? "8 4" : "2 4";
    std::snprintf(b, sizeof b,
                  "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#555' stroke-dasharray='%s'/>\n"
                  "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#555' stroke-dasharray='%s'/>"
                  "<text x='%d' y='%d' dominant-baseline='middle'>%s</text>\n",
                  left, Y(v), left + pw, Y(v), dash, left + pw + 12, legend_y, left + pw + 36, legend_y, dash,
                  left + pw + 42, legend_y, svg::escape(name).c_str());
    s += b;
    legend_y += 18;
  }
  for (size_t i = 0; i < c.series.size(); ++i) {
    const Series& sr = c.series[i];
    const char* col = kColours[i % 10];
    std::string pts;
    for (size_t k = 0; k < sr.x.size(); ++k) {
      if (!std::isfinite(sr.y[k])) continue;
      std::snprintf(b, sizeof b, "%.1f,%.1f ", X(sr.x[k]), Y(sr.y[k]));
      pts += b;
    }
    std::snprintf(b, sizeof b, "<polyline fill='none' stroke='%s' stroke-width='2' points='%s'/>\n", col, pts.c_str());
    s += b;
    for (size_t k = 0; k < sr.x.size(); ++k) {
      if (!std::isfinite(sr.y[k])) continue;
      if (k < sr.lo.size() && k < sr.hi.size() && sr.hi[k] > sr.lo[k]) {
        std::snprintf(b, sizeof b, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='%s'/>\n", X(sr.x[k]), Y(sr.lo[k]),
                      X(sr.x[k]), Y(sr.hi[k]), col);
        s += b;
      }
      std::snprintf(b, sizeof b, "<circle cx='%.1f' cy='%.1f' r='3' fill='%s'><title>%s: N=%s, %s</title></circle>\n",
                    X(sr.x[k]), Y(sr.y[k]), col, svg::escape(sr.name).c_str(), fmt(sr.x[k]).c_str(), fmt(sr.y[k]).c_str());
      s += b;
    }
    std::snprintf(b, sizeof b,
                  "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='%s' stroke-width='2'/>"
                  "<text x='%d' y='%d' dominant-baseline='middle'>%s</text>\n",
                  left + pw + 12, legend_y, left + pw + 36, legend_y, col, left + pw + 42, legend_y,
                  svg::escape(sr.name).c_str());
    s += b;
    legend_y += 18;
  }
  return s + "</svg>\n";
}

namespace {

// Mean over seeds per (variant, N), with min/max whiskers when seeds differ.
std::vector<Series> series_by_variant(const std::map<std::pair<std::string, int>, std::vector<double>>& pts) {
  std::map<std::string, Series> by;
  for (const auto& [key, vals] : pts) {
    Series& s = by[key.first];
    s.name = key.first;
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    for (double v : vals) sum += v, lo = std::min(lo, v), hi = std::max(hi, v);
    s.x.push_back(key.second);
    s.y.push_back(sum / vals.size());
    s.lo.push_back(lo);
    s.hi.push_back(hi);
    if (vals.size() > 1) s.name = key.first + " (mean of " + std::to_string(vals.size()) + " seeds)";
  }
  std::vector<Series> out;
  for (auto& [_, s] : by) out.push_back(std::move(s));
  return out;
}

}  // namespace

std::vector<std::string> plot_sweep(const std::vector<json>& records, const std::string& out_dir) {
  std::filesystem::create_directories(out_dir);
  std::vector<std::string> written;
  std::map<std::string, std::map<std::pair<std::string, int>, std::vector<double>>> per_task;
  std::map<std::string, double> full, chance;
  std::map<std::string, std::string> metric;
  for (const json& r : records) {
    const SweepKey k = sweep_key(r, "results");
    if (!r.contains("score") || !r["score"].is_number()) continue;
    metric[k.task] = r.value("primary", "score");
    if (k.variant == "full") {
      full[k.task] = r["score"];
      if (r.contains("chance") && r["chance"].is_number()) chance[k.task] = r["chance"];
      continue;
    }
    per_task[k.task][{k.variant, k.n}].push_back(r["score"]);
  }
  for (const auto& [task, pts] : per_task) {
    LineChart c;
    c.title = task + ": " + metric[task] + " vs N (first and last N layers kept)";
    c.x_label = "N";
    c.y_label = metric[task];
    c.series = series_by_variant(pts);
    if (full.count(task)) c.hlines.push_back({"full model", full[task]});
    if (chance.count(task)) c.hlines.push_back({"chance", chance[task]});
    const std::string path = (std::filesystem::path(out_dir) / (task + ".svg")).string();
    write_file_atomic(path, line_chart_svg(c));
    written.push_back(path);
  }
  std::map<std::pair<std::string, int>, std::vector<double>> med;
  for (const NormalisedRow& row : normalise_results(records))
    if (row.variant != "full" && std::isfinite(row.median)) med[{row.variant, row.n}].push_back(row.median);
  if (!med.empty()) {
    LineChart c;
    c.title = "Median normalised score over tasks, all variants";
    c.x_label = "N";
    c.y_label = "(score - chance) / (full - chance), median over tasks";
    c.series = series_by_variant(med);
    c.hlines = {{"full model", 1.0}, {"chance", 0.0}};
    const std::string path = (std::filesystem::path(out_dir) / "normalised_median.svg").string();
    write_file_atomic(path, line_chart_svg(c));
    written.push_back(path);
  }
  return written;
}

std::string similarity_heatmap_svg(const json& sim, const std::string& title, const std::string& where) {
  SimilarityResult r;
  if (!sim.is_object() || !sim.contains("labels") || !sim["labels"].is_array() || !sim.contains("matrix") ||
      !sim["matrix"].is_array())
    fail(where, "a similarity file needs arrays 'labels' and 'matrix'");
  for (const auto& l : sim["labels"]) {
    if (!l.is_string()) fail(where, "'labels' must hold strings");
    r.labels.push_back(l);
  }
  const size_t n = r.labels.size();
  if (sim["matrix"].size() != n) fail(where, "'matrix' must have one row per label");
  for (const auto& row : sim["matrix"]) {
    if (!row.is_array() || row.size() != n) fail(where, "'matrix' must be square, one column per label");
    std::vector<double> v;
    for (const auto& x : row) {
      if (!x.is_number()) fail(where, "'matrix' must hold numbers");
      v.push_back(x);
    }
    r.matrix.push_back(std::move(v));
  }
  return similarity_to_svg(r, title);
}

}  // namespace layerlab
