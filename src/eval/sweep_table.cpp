// The scores of a results file as one table (rows: variant, N, seed; columns: each task's
// primary metric with its standard error), as aligned text, CSV or Markdown. Every sweep gets
// one, perplexity-only sweeps included (they have no normalised summary).
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

#include "layerlab/error.h"
#include "layerlab/sweep.h"

namespace layerlab {

namespace {

using nlohmann::json;

struct Cell {
  double score = NAN, stderr_ = NAN;
};

std::string number(double x, int digits) {
  if (!std::isfinite(x)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

// Quotes a CSV field when it needs it (RFC 4180).
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::string format_results_table(const std::vector<json>& records, const std::string& format) {
  if (format != "text" && format != "csv" && format != "markdown")
    fail_option("format", "'" + format + "' is not one of text, csv, markdown");
  // Columns: "task (metric)"; rows sorted with the baseline first, then by variant, N, seed.
  std::map<std::string, std::string> metric_of;
  std::map<std::tuple<int, std::string, int, uint64_t>, std::map<std::string, Cell>> rows;
  for (const json& r : records) {
    const SweepKey k = sweep_key(r, "results");
    const std::string metric = r.value("primary", std::string("score"));
    metric_of[k.task] = metric;
    Cell c;
    if (r.contains("score") && r["score"].is_number()) c.score = r["score"].get<double>();
    if (r.contains("metrics") && r["metrics"].is_object() && r["metrics"].contains(metric)) {
      const json& m = r["metrics"][metric];
      if (m.is_object() && m.contains("stderr") && m["stderr"].is_number()) c.stderr_ = m["stderr"].get<double>();
    }
    rows[{k.variant == "full" ? 0 : 1, k.variant, k.n, k.seed}][k.task] = c;
  }
  std::vector<std::string> header = {"variant", "N", "seed"};
  for (const auto& [task, metric] : metric_of) {
    header.push_back(task + " " + metric);
    header.push_back("stderr");
  }
  std::vector<std::vector<std::string>> table = {header};
  for (const auto& [key, cells] : rows) {
    const auto& [_, variant, n, seed] = key;
    std::vector<std::string> row = {variant, std::to_string(n), std::to_string(seed)};
    for (const auto& [task, metric] : metric_of) {
      const auto it = cells.find(task);
      // Perplexities run to the hundreds; accuracies are fractions.
      const int digits = metric.find("perplexity") != std::string::npos ? 3 : 4;
      row.push_back(it == cells.end() ? "" : number(it->second.score, digits));
      row.push_back(it == cells.end() ? "" : number(it->second.stderr_, digits));
    }
    table.push_back(row);
  }
  std::string out;
  if (format == "csv") {
    for (const auto& row : table) {
      for (size_t i = 0; i < row.size(); ++i) {
        if (i) out += ',';
        out += csv_field(row[i]);
      }
      out += "\n";
    }
    return out;
  }
  std::vector<size_t> width(header.size(), 0);
  for (const auto& row : table)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  auto pad = [&](const std::string& s, size_t i) {
    const bool left = i == 0;  // variant names left-aligned, numbers right-aligned
    const std::string fill(width[i] - s.size(), ' ');
    return left ? s + fill : fill + s;
  };
  for (size_t r = 0; r < table.size(); ++r) {
    for (size_t i = 0; i < table[r].size(); ++i)
      out += format == "markdown" ? "| " + pad(table[r][i], i) + " " : (i ? "  " : "") + pad(table[r][i], i);
    out += format == "markdown" ? "|\n" : "\n";
    if (r == 0 && format == "markdown") {
      for (size_t i = 0; i < width.size(); ++i) {  // left-aligned first column, the rest right-aligned
        out += i == 0 ? "|:" : "|-";
        out.append(width[i], '-');
        out += i == 0 ? "-" : ":";
      }
      out += "|\n";
    }
  }
  return out;
}

}  // namespace layerlab
