#pragma once
// Painters sweeps: every (task, variant, N, seed) configuration scored once, each result
// appended as one JSON line (append_line_durable), so a sweep killed at any moment resumes
// with nothing lost or counted twice. Configurations with the same N are evaluated together:
// their first N steps run once per batch (prefix reuse), each variant finishes from a clone.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerlab/eval.h"

namespace layerlab {

struct SweepOptions {
  std::vector<std::string> variants;  // "full" included when wanted
  std::vector<int> ns;
  int seeds = 1;  // shuffle runs seeds 0..seeds-1; other variants do not depend on a seed (seed 0)
  int k = 3;      // looped_parallel iterations
  std::string out;
  std::string model_dir;
  std::map<std::string, std::string> data;  // task -> data file, recorded in each line
  int64_t limit = -1;                       // recorded in each line
  bool add_bos = false;                     // BOS before every context (recorded; perplexity/mlm: no effect)
  // One records file per configuration (eval's --log-samples lines, first line the setup):
  // DIR/<task>.<variant>.n<N>.seed<S>.jsonl, written afresh when its group runs. Empty: none.
  std::string log_samples_dir;
  bool prefix_reuse = true;
  bool progress = true;
};

struct SweepKey {
  std::string task, variant;
  int n = 0;
  uint64_t seed = 0;
  auto operator<=>(const SweepKey&) const = default;
  std::string text() const;
};
SweepKey sweep_key(const nlohmann::json& record, const std::string& where);

// Valid records of a results file; a torn last line (a kill during a write) is skipped, and
// with `repair` the file is rewritten atomically without it so later appends start on a
// fresh line. Any other malformed line is an Error naming file:line.
std::vector<nlohmann::json> read_sweep_results(const std::string& path, bool repair = false);

struct SweepStats {
  int configs_total = 0, configs_done_before = 0, configs_run = 0;
  int plans_evaluated = 0;  // distinct plans scored (identical plans in a group run once)
  double seconds = 0;
};
// Runs every configuration missing from opts.out. `tasks` maps task name -> loaded task.
SweepStats run_sweep(Runner& runner, std::map<std::string, std::unique_ptr<Task>>& tasks, const SweepOptions& opts);

// The paper's normalisation: per task, (score - chance) / (full-model score - chance) of the
// task's primary metric; per configuration, the median over tasks. Tasks without a chance
// level (perplexity) or whose full-model score equals chance are left out of the median.
struct NormalisedRow {
  std::string variant;
  int n = 0;
  uint64_t seed = 0;
  std::map<std::string, double> per_task;  // normalised score per task
  double median = 0;
};
std::vector<NormalisedRow> normalise_results(const std::vector<nlohmann::json>& records);
double median_of(std::vector<double> xs);
// A text table of the normalised scores (variant, N, seed, per task, median).
std::string format_summary(const std::vector<NormalisedRow>& rows);

// Every record's primary score and standard error, one row per (variant, N, seed) with the
// baseline first, one column pair per task; format "text" (aligned), "csv" or "markdown".
std::string format_results_table(const std::vector<nlohmann::json>& records, const std::string& format);

}  // namespace layerlab
