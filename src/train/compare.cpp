// Comparing training runs: loss curves (SVG, train and validation side by side) and a table.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/train.h"
#include "util/svg.h"
#include "util/json_depth.h"

namespace layerlab::train {

namespace {

struct Run {
  std::string dir, label;
  nlohmann::json summary;
  std::vector<std::pair<double, double>> train, val;  // (tokens, loss)
};

nlohmann::json read_json(const std::string& path) {
  try {
    return nlohmann::json::parse(depth_checked(read_text_file(path), path));
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("not valid JSON: ") + e.what());
  }
}

Run read_run(const std::string& dir) {
  Run r;
  r.dir = dir;
  r.summary = read_json(dir + "/summary.json");
  const nlohmann::json log = read_json(dir + "/log.json");
  try {
    r.label = r.summary.at("block").get<std::string>() + (r.summary.at("norm").get<bool>() ? "" : " (no norm)");
    for (const auto& row : log.at("rows")) {
      r.train.push_back({row.at("tokens").get<double>(), row.at("loss").get<double>()});
      if (row.contains("val_loss")) r.val.push_back({row["tokens"].get<double>(), row["val_loss"].get<double>()});
    }
  } catch (const nlohmann::json::exception& e) {
    fail(dir, std::string("bad log.json / summary.json: ") + e.what());
  }
  if (r.train.empty()) fail(dir + "/log.json", "no rows");
  return r;
}

// Moving average over `w` points so noisy per-step losses read as curves.
std::vector<std::pair<double, double>> smooth(const std::vector<std::pair<double, double>>& p, int w) {
  if (w <= 1) return p;
  std::vector<std::pair<double, double>> out;
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    sum += p[i].second;
    if (i >= size_t(w)) sum -= p[i - w].second;
    out.push_back({p[i].first, sum / std::min<double>(i + 1, w)});
  }
  return out;
}

const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

std::string panel(const std::vector<Run>& runs, bool validation, int x0, int y0, int w, int h,
                  const std::string& title) {
  double xmax = 0, ymin = INFINITY, ymax = -INFINITY;
  std::vector<std::vector<std::pair<double, double>>> curves;
  for (const Run& r : runs) {
    auto c = validation ? r.val : smooth(r.train, std::max<int>(1, int(r.train.size() / 50)));
    // Skip the first few percent of training for the y range: the initial loss (~ln V) would
    // flatten every difference that matters.
    for (size_t i = c.size() / 20; i < c.size(); ++i) {
      ymin = std::min(ymin, c[i].second);
      ymax = std::max(ymax, c[i].second);
    }
    for (auto& p : c) xmax = std::max(xmax, p.first);
    curves.push_back(std::move(c));
  }
  std::string s;
  char buf[512];
  std::snprintf(buf, sizeof buf, "<text x='%d' y='%d' font-size='13' font-weight='bold'>%s</text>\n", x0, y0 - 8,
                svg::escape(title).c_str());
  s += buf;
  if (!std::isfinite(ymin) || xmax <= 0) {
    std::snprintf(buf, sizeof buf, "<text x='%d' y='%d'>no data</text>\n", x0 + 10, y0 + h / 2);
    return s + buf;
  }
  if (ymax - ymin < 1e-6) ymax = ymin + 1e-3;
  const double pad = 0.05 * (ymax - ymin);
  ymin -= pad;
  ymax += pad;
  auto X = [&](double t) { return x0 + t / xmax * w; };
  auto Y = [&](double l) { return y0 + h - (std::clamp(l, ymin, ymax) - ymin) / (ymax - ymin) * h; };
  std::snprintf(buf, sizeof buf, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#444'/>\n", x0, y0, w,
                h);
  s += buf;
  for (int i = 0; i <= 5; ++i) {
    const double l = ymin + (ymax - ymin) * i / 5, t = xmax * i / 5;
    std::snprintf(buf, sizeof buf,
                  "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#ddd'/><text x='%d' y='%.1f' "
                  "text-anchor='end'>%.2f</text>\n<text x='%.1f' y='%d' text-anchor='middle'>%.3gM</text>\n",
                  x0, Y(l), x0 + w, Y(l), x0 - 4, Y(l) + 4, l, X(t), y0 + h + 14, t / 1e6);
    s += buf;
  }
  std::snprintf(buf, sizeof buf, "<text x='%d' y='%d' text-anchor='middle'>tokens</text>\n", x0 + w / 2, y0 + h + 30);
  s += buf;
  for (size_t k = 0; k < curves.size(); ++k) {
    std::string pts;
    for (auto& p : curves[k]) {
      std::snprintf(buf, sizeof buf, "%.1f,%.1f ", X(p.first), Y(p.second));
      pts += buf;
    }
    s += "<polyline fill='none' stroke-width='1.6' stroke='" + std::string(kColours[k % 8]) + "' points='" + pts +
         "'/>\n";
  }
  return s;
}

std::string fmt(const nlohmann::json& v, const char* f) {
  if (!v.is_number()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v.get<double>());
  return buf;
}

}  // namespace

void compare_runs(const std::vector<std::string>& run_dirs, const std::string& prefix) {
  if (run_dirs.empty()) fail_option("compare", "give at least one run directory");
  std::vector<Run> runs;
  for (const auto& d : run_dirs) runs.push_back(read_run(d));

  const int W = 980, H = 420, pw = 400, ph = 280;
  std::string svg;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif' "
                "font-size='11'>\n<rect width='100%%' height='100%%' fill='white'/>\n",
                W, H);
  svg += buf;
  svg += panel(runs, false, 70, 40, pw, ph, "Training loss (moving average)");
  svg += panel(runs, true, 540, 40, pw, ph, "Validation loss");
  for (size_t k = 0; k < runs.size(); ++k) {
    const double tps = runs[k].summary.value("tokens_per_second", 0.0);
    const double params = runs[k].summary.value("parameters", 0.0);
    std::snprintf(buf, sizeof buf,
                  "<rect x='%d' y='%d' width='14' height='4' fill='%s'/><text x='%d' y='%d'>%s: %.2fM params, "
                  "%.0f tok/s</text>\n",
                  70 + int(k % 2) * 470, 370 + int(k / 2) * 16, kColours[k % 8], 90 + int(k % 2) * 470,
                  375 + int(k / 2) * 16, svg::escape(runs[k].label).c_str(), params / 1e6, tps);
    svg += buf;
  }
  svg += "</svg>\n";

  std::string md =
      "| run | block | parameters | tokens | tokens/s | wall time (s) | final train loss | final val loss |\n"
      "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  nlohmann::json table = nlohmann::json::array();
  for (const Run& r : runs) {
    const auto& s = r.summary;
    md += "| " + r.dir + " | " + r.label + " | " + fmt(s.value("parameters", nlohmann::json()), "%.0f") + " | " +
          fmt(s.value("tokens", nlohmann::json()), "%.0f") + " | " +
          fmt(s.value("tokens_per_second", nlohmann::json()), "%.0f") + " | " +
          fmt(s.value("seconds", nlohmann::json()), "%.1f") + " | " +
          fmt(s.value("final_train_loss", nlohmann::json()), "%.4f") + " | " +
          fmt(s.value("final_val_loss", nlohmann::json()), "%.4f") + " |\n";
    table.push_back({{"run", r.dir},
                     {"label", r.label},
                     {"parameters", s.value("parameters", nlohmann::json())},
                     {"tokens", s.value("tokens", nlohmann::json())},
                     {"tokens_per_second", s.value("tokens_per_second", nlohmann::json())},
                     {"seconds", s.value("seconds", nlohmann::json())},
                     {"final_train_loss", s.value("final_train_loss", nlohmann::json())},
                     {"final_val_loss", s.value("final_val_loss", nlohmann::json())}});
  }
  write_file_atomic(prefix + ".svg", svg);
  write_file_atomic(prefix + ".md", md);
  write_file_atomic(prefix + ".json", table.dump(2) + "\n");
}

}  // namespace layerlab::train
