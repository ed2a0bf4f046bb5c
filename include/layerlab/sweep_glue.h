#pragma once
// GLUE in Painters sweeps (docs/GLUE.md, "Sweeps"): every (task, variant, N, seed) configuration
// fine-tuned with finetune::run and evaluated on the dev set, one durable JSON line each, under
// the sweep's lock and resume rules (a rerun skips what is recorded; lines of a different
// setup, fine-tuning settings included, are refused).
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerlab/finetune.h"
#include "layerlab/sweep.h"

namespace layerlab {

struct GlueSweepOptions {
  std::vector<std::string> tasks;     // GLUE task names ("sst2"); recorded as "glue:sst2"
  std::vector<std::string> variants;  // "full" included when wanted
  std::vector<int> ns;
  int seeds = 1;  // shuffle's seeds 0..seeds-1 (the order of the middle layers)
  int k = 3;      // looped_parallel iterations
  std::string out, model_dir, data_dir;
  // Epochs, lr, batch, max_length, head_only, limits, seed, ...: the same for every configuration
  // (task, plan, model, data and output folder are set per configuration).
  finetune::Options finetune;
  bool progress = true;
  bool added_full = false;  // the caller added "full" to variants: noted once the file is checked
};

// "glue:sst2" -> "sst2"; "" when `task` is not a glue: task.
std::string glue_task_of(const std::string& task);
// The GLUE tasks with a DIR/<task>/train.jsonl, in task order (what glue:all means).
std::vector<std::string> glue_tasks_with_train(const std::string& data_dir);
// The fine-tuning settings every line records and resume compares.
nlohmann::json finetune_settings(const finetune::Options& o);

// Runs every configuration missing from o.out. Each one's fine-tuning folder is
// OUT.runs/<task>.<variant>.n<N>.s<seed>/ (results.json kept; the checkpoint is removed once the
// line is written); a sweep stopped inside a configuration continues it from its last epoch.
SweepStats run_glue_sweep(const GlueSweepOptions& o);

// The GLUE score per (variant, N, seed): the unweighted mean of the glue: tasks' scores, over
// the rows that have every glue task of the file (others get NaN and are marked incomplete).
struct GlueScoreRow {
  std::string variant;
  int n = 0;
  uint64_t seed = 0;
  std::map<std::string, double> per_task;  // "glue:sst2" -> task score
  double glue = 0;                         // NaN when a task is missing
};
std::vector<GlueScoreRow> glue_score_rows(const std::vector<nlohmann::json>& records);
std::string format_glue_summary(const std::vector<GlueScoreRow>& rows);

}  // namespace layerlab
