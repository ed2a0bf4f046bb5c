// The figures of a sweep: score vs N per task (error bars from the stored standard errors, the
// full model and chance as reference lines, a log axis for perplexity) and the median
// normalised score; titles name the model, not the path that was typed.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/plot.h"
#include "layerlab/similarity.h"
#include "layerlab/sweep.h"
#include "layerlab/sweep_glue.h"
#include "util/json_read.h"

namespace layerlab {

using nlohmann::json;

std::string model_display_name(const std::string& model_dir) {
  namespace fs = std::filesystem;
  auto last_part = [](std::string p) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    const size_t cut = p.find_last_of('/');
    return cut == std::string::npos ? p : p.substr(cut + 1);
  };
  try {
    const std::string cfg = (fs::path(model_dir) / "config.json").string();
    if (file_exists(cfg)) {
      const json j = read_json_file(cfg);
      if (j.is_object() && j.contains("_name_or_path") && j["_name_or_path"].is_string()) {
        const std::string n = last_part(j["_name_or_path"].get<std::string>());
        if (!n.empty() && n != "." && n != "..") return n;
      }
    }
  } catch (const Error&) {
    // An unreadable config only loses the nicer name.
  }
  std::error_code ec;
  const fs::path canon = fs::weakly_canonical(fs::path(model_dir), ec);
  const std::string name = last_part(ec ? model_dir : canon.string());
  return name.empty() ? model_dir : name;
}

namespace {

// A metric's axis label, with its unit.
std::string metric_label(const std::string& m) {
  if (m == "acc") return "accuracy (fraction of items correct)";
  if (m == "acc_norm") return "length-normalised accuracy (fraction correct)";
  if (m == "perplexity") return "perplexity per token (log scale)";
  if (m == "word_perplexity") return "perplexity per word (log scale)";
  if (m == "bits_per_byte") return "bits per byte";
  if (m == "task_score") return "GLUE task score (mean of the task's metrics)";
  if (m == "exact_match" || m == "exact_match_flexible") return m + " (fraction of problems)";
  if (m == "mlm_acc" || m.find("acc") != std::string::npos) return m + " (fraction correct)";
  return m;
}

struct Point {
  std::vector<double> y, se;
};

// Per variant, per N: the mean over seeds; its error bar +- the standard error of that mean
// (sqrt(sum se_i^2) / n: the seeds' runs are independent estimates).
std::vector<Series> series_by_variant(const std::map<std::pair<std::string, int>, Point>& pts) {
  std::map<std::string, Series> by;
  for (const auto& [key, p] : pts) {
    Series& s = by[key.first];
    s.name = key.first;
    double sum = 0, se2 = 0;
    bool have_se = true;
    for (size_t i = 0; i < p.y.size(); ++i) {
      sum += p.y[i];
      if (std::isfinite(p.se[i])) se2 += p.se[i] * p.se[i];
      else have_se = false;
    }
    const double n = double(p.y.size()), y = sum / n, se = std::sqrt(se2) / n;
    s.x.push_back(key.second);
    s.y.push_back(y);
    s.lo.push_back(have_se ? y - se : NAN);
    s.hi.push_back(have_se ? y + se : NAN);
    if (p.y.size() > 1) s.name = key.first + " (mean of " + std::to_string(p.y.size()) + " seeds)";
  }
  std::vector<Series> out;
  for (auto& [_, s] : by) out.push_back(std::move(s));
  return out;
}

double stderr_of(const json& r) {
  const std::string primary = r.value("primary", "");
  if (!r.contains("metrics") || !r["metrics"].is_object() || !r["metrics"].contains(primary)) return NAN;
  const json& m = r["metrics"][primary];
  return m.is_object() && m.contains("stderr") && m["stderr"].is_number() ? m["stderr"].get<double>() : NAN;
}

std::vector<double> all_values(const LineChart& c) {
  std::vector<double> v;
  for (const auto& s : c.series) v.insert(v.end(), s.y.begin(), s.y.end());
  for (const auto& h : c.hlines) v.push_back(h.y);
  return v;
}

}  // namespace

std::vector<std::string> plot_sweep(const std::vector<json>& records, const std::string& out_dir, const PlotOptions& o) {
  std::filesystem::create_directories(out_dir);
  std::vector<std::string> written;
  std::map<std::string, std::map<std::pair<std::string, int>, Point>> per_task;
  std::map<std::string, double> full, full_se, chance;
  std::map<std::string, std::string> metric;
  std::map<std::string, int64_t> items;
  std::string model = o.model_name;
  for (const json& r : records) {
    const SweepKey k = sweep_key(r, "results");
    if (!r.contains("score") || !r["score"].is_number()) continue;
    if (model.empty() && r.contains("model") && r["model"].is_string()) model = model_display_name(r["model"]);
    metric[k.task] = r.value("primary", "score");
    if (r.contains("items") && r["items"].is_number_integer()) items[k.task] = r["items"];
    if (k.variant == "full") {
      full[k.task] = r["score"];
      full_se[k.task] = stderr_of(r);
      if (r.contains("chance") && r["chance"].is_number()) chance[k.task] = r["chance"];
      continue;
    }
    Point& p = per_task[k.task][{k.variant, k.n}];
    p.y.push_back(r["score"]);
    p.se.push_back(stderr_of(r));
  }
  const std::string who = model.empty() ? "" : model + " · ";
  for (const auto& [task, pts] : per_task) {
    LineChart c;
    const std::string& m = metric[task];
    c.title = who + task + ": " + m + " vs N";
    c.subtitle = (items.count(task) ? std::to_string(items[task]) + (m.find("perplexity") != std::string::npos ? " documents" : " items") + " · " : "") +
                 "error bars and band: ±1 standard error";
    c.x_label = "N: layers kept unchanged at each end (the middle layers are changed)";
    c.y_label = metric_label(m);
    if (!glue_task_of(task).empty())  // fine-tuned: no standard errors
      c.subtitle = (items.count(task) ? std::to_string(items[task]) + " dev examples · " : "") +
                   "each configuration fine-tuned under its plan";
    c.series = series_by_variant(pts);
    if (full.count(task)) c.hlines.push_back({"full model", full[task], std::isfinite(full_se[task]) ? full_se[task] : 0});
    if (chance.count(task)) c.hlines.push_back({"chance", chance[task], 0});
    // Perplexity spans decades as layers are removed (4.8 to 113 in one sweep): a log axis.
    const std::vector<double> vals = all_values(c);
    const bool positive = std::all_of(vals.begin(), vals.end(), [](double v) { return !std::isfinite(v) || v > 0; });
    c.log_y = positive && (m.find("perplexity") != std::string::npos || spans_decades(vals));
    if (!c.log_y && m.find("perplexity") != std::string::npos) c.y_label = "perplexity per token";
    std::string file = task;  // "glue:sst2" -> glue_sst2.svg: no colon in a file name
    std::replace(file.begin(), file.end(), ':', '_');
    auto w = write_figure((std::filesystem::path(out_dir) / (file + ".svg")).string(), line_chart_svg(c), o.formats);
    written.insert(written.end(), w.begin(), w.end());
  }
  // The GLUE panel: the mean of the glue: tasks' scores vs N (configurations with every task).
  std::map<std::pair<std::string, int>, Point> glue_pts;
  double glue_full = NAN;
  size_t glue_tasks = 0;
  for (const GlueScoreRow& row : glue_score_rows(records)) {
    glue_tasks = std::max(glue_tasks, row.per_task.size());
    if (!std::isfinite(row.glue)) continue;
    if (row.variant == "full") glue_full = row.glue;
    else glue_pts[{row.variant, row.n}].y.push_back(row.glue), glue_pts[{row.variant, row.n}].se.push_back(NAN);
  }
  if (!glue_pts.empty()) {
    LineChart c;
    c.title = who + "GLUE score vs N";
    c.subtitle = "unweighted mean of " + std::to_string(glue_tasks) + " fine-tuned task scores (dev sets)";
    c.x_label = "N: layers kept unchanged at each end (the middle layers are changed)";
    c.y_label = "GLUE score (mean of task scores)";
    c.series = series_by_variant(glue_pts);
    if (std::isfinite(glue_full)) c.hlines.push_back({"full model", glue_full, 0});
    auto w = write_figure((std::filesystem::path(out_dir) / "glue.svg").string(), line_chart_svg(c), o.formats);
    written.insert(written.end(), w.begin(), w.end());
  }
  std::map<std::pair<std::string, int>, Point> med;
  size_t tasks = 0;
  for (const NormalisedRow& row : normalise_results(records))
    if (row.variant != "full" && std::isfinite(row.median)) {
      med[{row.variant, row.n}].y.push_back(row.median);
      med[{row.variant, row.n}].se.push_back(NAN);
      tasks = std::max(tasks, row.per_task.size());
    }
  if (!med.empty()) {
    LineChart c;
    c.title = who + "Median normalised score over " + std::to_string(tasks) + (tasks == 1 ? " task" : " tasks");
    c.subtitle = "normalised = (score − chance) / (full − chance): 1 = full model, 0 = chance";
    c.x_label = "N: layers kept unchanged at each end (the middle layers are changed)";
    c.y_label = "normalised score (median over tasks)";
    c.series = series_by_variant(med);
    for (auto& s : c.series) s.lo.clear(), s.hi.clear();
    c.hlines = {{"full model", 1.0, 0}, {"chance", 0.0, 0}};
    auto w = write_figure((std::filesystem::path(out_dir) / "normalised_median.svg").string(), line_chart_svg(c), o.formats);
    written.insert(written.end(), w.begin(), w.end());
  }
  return written;
}

std::string similarity_heatmap_svg(const json& sim, const std::string& title, const std::string& where,
                                   const HeatmapRange& range) {
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
  if (sim.contains("tokens") && sim["tokens"].is_number_integer()) r.tokens = sim["tokens"];
  if (sim.contains("texts") && sim["texts"].is_number_integer()) r.texts = sim["texts"];
  return similarity_to_svg(r, title, range.vmin, range.vmax);
}

}  // namespace layerlab
