// The task registry and helpers shared by every task.
#include <algorithm>

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

namespace evalimpl {

int context_length(const ModelConfig& cfg, int window) {
  if (window < 0) fail_option("window", "must be positive");
  int len = cfg.max_positions > 0 ? cfg.max_positions : 2048;
  if (window > 0) len = std::min(len, window);
  if (len < 2) fail_option("window", "a window needs at least 2 tokens");
  return len;
}

void for_chunks(size_t n, size_t chunk, const std::function<void(size_t, size_t)>& fn,
                const std::function<void(int64_t)>& on_items) {
  for (size_t b = 0; b < n; b += chunk) {
    const size_t e = std::min(n, b + chunk);
    fn(b, e);
    if (on_items) on_items(static_cast<int64_t>(e - b));
  }
}

Metric mean_metric(const std::string& name, const std::vector<double>& xs) { return {name, mean_of(xs), mean_stderr(xs)}; }

}  // namespace evalimpl
}  // namespace layerlab
