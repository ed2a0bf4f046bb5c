// The task registry and helpers shared by every task.
#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "layerlab/error.h"
#include "layerlab/eval_text.h"
#include "layerlab/fs.h"
#include "task_common.h"

namespace layerlab {

using namespace evalimpl;

const std::vector<std::string>& task_names() {
  static const std::vector<std::string> names = {"lambada_openai", "hellaswag", "arc_easy",   "arc_challenge",
                                                 "winogrande",     "gsm8k",     "perplexity", "mlm"};
  return names;
}

std::unique_ptr<Task> make_task(const std::string& name, const std::string& data_path, const TextCodec& codec,
                                const ModelConfig& cfg, const TaskOptions& opts) {
  if (!file_exists(data_path)) fail(data_path, "data file for task '" + name + "' not found");
  if (opts.limit == 0 || opts.limit < -1) fail_option("limit", "must be a positive number of items");
  const bool needs_decoder = name != "mlm";
  if (needs_decoder && !cfg.causal)
    fail_option("task", "task '" + name + "' scores a causal language model; '" + cfg.family + "' is bidirectional (use the mlm task)");
  if (!needs_decoder && (cfg.causal || !cfg.has_mlm_head))
    fail_option("task", "task 'mlm' needs a masked language model (BERT); '" + cfg.family + "' is causal");
  if (name == "lambada_openai") return make_lambada_task(data_path, codec, cfg, opts);
  if (name == "hellaswag" || name == "arc_easy" || name == "arc_challenge" || name == "winogrande")
    return make_choice_task(name, data_path, codec, cfg, opts);
  if (name == "perplexity") return make_perplexity_task(data_path, codec, cfg, opts);
  if (name == "mlm") return make_mlm_task(data_path, codec, cfg, opts);
  if (name == "gsm8k") return make_gsm8k_task(data_path, codec, cfg, opts);
  std::string all;
  for (const auto& t : task_names()) all += (all.empty() ? "" : ", ") + t;
  fail_option("task", "unknown task '" + name + "' (one of: " + all + ")");
}

std::string item_record_line(const ItemRecord& r, const std::string& task) {
  nlohmann::json j = r.sample;
  j["task"] = task;
  j["doc_id"] = r.index;
  nlohmann::json scores = nlohmann::json::array();
  for (double x : r.values) scores.push_back(std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr));
  j["scores"] = scores;
  return j.dump();
}

std::vector<TaskResult> Task::evaluate(Runner& runner, const std::vector<Plan>& plans,
                                       const std::function<void(int64_t)>& on_items) {
  EvalHooks h;
  if (on_items) h.progress = [&](int64_t items, int64_t, bool) { on_items(items); };
  return run(runner, plans, h);
}

namespace evalimpl {

int context_length(const ModelConfig& cfg, int window) {
  if (window < 0) fail_option("window", "must be positive");
  int len = cfg.max_positions > 0 ? cfg.max_positions : 2048;
  if (window > 0) len = std::min(len, window);
  if (len < 2) fail_option("window", "a window needs at least 2 tokens");
  return len;
}

std::vector<size_t> fixed_chunks(size_t n, size_t chunk) {
  std::vector<size_t> b;
  for (size_t i = 0; i < n; i += chunk) b.push_back(i);
  b.push_back(n);
  return b;
}

std::vector<std::vector<ItemRecord>> run_chunks(const ChunkPlan& cp, size_t n_plans, const EvalHooks& hooks) {
  if (!hooks.resumed.empty() && n_plans != 1) fail_option("resume", "resuming needs exactly one plan");
  const size_t n = cp.bounds.back();
  for (const auto& [i, rec] : hooks.resumed) {
    if (i < 0 || static_cast<size_t>(i) >= n)
      fail_option("resume", "item " + std::to_string(i) + " is not among the task's " + std::to_string(n) + " items");
    if (rec.values.size() != cp.n_values(static_cast<size_t>(i)))
      fail_option("resume", "item " + std::to_string(i) + " holds " + std::to_string(rec.values.size()) +
                                " scores, this task's item has " + std::to_string(cp.n_values(static_cast<size_t>(i))));
  }
  std::vector<std::vector<ItemRecord>> out(n_plans, std::vector<ItemRecord>(n));
  for (size_t c = 0; c + 1 < cp.bounds.size(); ++c) {
    const size_t b = cp.bounds[c], e = cp.bounds[c + 1];
    int64_t tokens = 0, items = 0;
    bool recorded = !hooks.resumed.empty();
    for (size_t i = b; i < e; ++i) {
      tokens += cp.tokens(i);
      items += cp.items ? cp.items(i) : 1;
      recorded = recorded && hooks.resumed.count(static_cast<int64_t>(i));
    }
    if (recorded) {
      for (size_t i = b; i < e; ++i) out[0][i] = hooks.resumed.at(static_cast<int64_t>(i));
    } else {
      std::vector<std::vector<ItemRecord>> s = cp.score(b, e);
      if (hooks.progress) hooks.progress(items, tokens, false);
      for (size_t p = 0; p < n_plans; ++p) {
        for (size_t i = b; i < e; ++i) {
          s[p][i - b].index = static_cast<int64_t>(i);
          out[p][i] = s[p][i - b];
        }
        if (hooks.on_chunk) hooks.on_chunk(p, s[p]);
      }
      continue;
    }
    if (hooks.progress) hooks.progress(items, tokens, true);
  }
  return out;
}

Metric mean_metric(const std::string& name, const std::vector<double>& xs) { return {name, mean_of(xs), mean_stderr(xs)}; }

}  // namespace evalimpl
}  // namespace layerlab
