// layerlab eval --model DIR --task T (--data FILE | --data-dir DIR) [--plan P | --variant V --n N] [--limit K]
//               [--out results.json] [task options]
// Everything is checked before the work: a file without items is an error naming it.
// Scores one benchmark under one plan; prints every metric with its standard error.
#include <chrono>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "layerlab/error.h"
#include "layerlab/eval.h"
#include "layerlab/fs.h"
#include "layerlab/progress.h"
#include "layerlab/tokenizer.h"
#include "model_args.h"
#include "task_args.h"

namespace layerlab::cli {

static std::string format_value(double v) {
  char b[32];
  if (!std::isfinite(v)) return "n/a";
  std::snprintf(b, sizeof b, "%.4f", v);
  return b;
}

int cmd_eval(const Argv& argv) {
  Options o("eval", "score a benchmark under a plan: every metric with its standard error (docs/EVAL.md)");
  ModelArgs ma;
  PlanArgs pa;
  TaskArgs ta;
  std::string task_name, data, data_dir, out;
  add_model_options(o, ma);
  o.required(o.text("--task", task_name, "TASK", "the benchmark: " + [] {
    std::string all;
    for (const auto& t : task_names()) all += (all.empty() ? "" : ", ") + t;
    return all;
  }()));
  o.text("--data", data, "FILE", "the task's data: .jsonl items (perplexity: plain text or .jsonl with 'text')",
         "none; required unless --data-dir");
  add_data_dir_option(o, data_dir);
  o.text("--out", out, "FILE", "also write the metrics as JSON to this file", "not written");
  add_plan_options(o, pa);
  add_task_options(o, ta);
  if (!o.parse(argv)) return 0;
  check_plan_args(o, pa);
  if (o.given("--data") && o.given("--data-dir"))
    fail("--data-dir", "give either --data FILE or --data-dir DIR, not both");
  if (!o.given("--data") && !o.given("--data-dir")) fail("--data", "required option is missing (or give --data-dir DIR)");
  if (o.given("--data-dir")) data = data_file_in_dir(data_dir, task_name);
  check_task_args(o, ta, {task_name}, {data});
  if (o.given("--out")) check_output_path(out, "--out");  // before the work, not after
  LoadedModel m = open_model(ma);
  const ModelConfig& cfg = m.model->config();
  const Plan plan = plan_from_args(o, pa, cfg);
  const TaskOptions& topts = ta.t;
  auto tok = load_tokenizer(m.model->dir());
  check_task_args_for_model(o, ta, {task_name}, cfg, *tok);
  const TextCodec codec = codec_for(*tok, ta.add_bos);
  auto task = make_task(task_name, data, codec, cfg, topts);
  check_task_has_items(task_name, data, *task, codec, ta);
  Runner runner(*m.model, *m.backend);

  const auto t0 = std::chrono::steady_clock::now();
  Progress bar("eval " + task_name, task->size(), "items");
  const TaskResult r = task->evaluate(runner, {plan}, [&](int64_t n) { bar.add(n); })[0];
  bar.finish();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::printf("task %s, %lld items%s, plan %s\n", task_name.c_str(), static_cast<long long>(r.items),
              r.tokens ? (", " + std::to_string(r.tokens) + " tokens").c_str() : "", plan_to_text(plan).c_str());
  nlohmann::json metrics = nlohmann::json::object();
  for (const Metric& x : r.metrics) {
    std::printf("  %-22s %10s  +/- %s\n", x.name.c_str(), format_value(x.value).c_str(), format_value(x.stderr_).c_str());
    metrics[x.name] = {{"value", std::isfinite(x.value) ? nlohmann::json(x.value) : nlohmann::json(nullptr)},
                       {"stderr", std::isfinite(x.stderr_) ? nlohmann::json(x.stderr_) : nlohmann::json(nullptr)}};
  }
  if (std::isfinite(task->chance())) std::printf("  (chance level of %s: %.4f)\n", r.metrics[0].name.c_str(), task->chance());
  if (o.given("--out")) {
    nlohmann::json j = {{"task", task_name},       {"model", m.model->dir()}, {"data", data},
                        {"plan", plan_to_text(plan)}, {"limit", topts.limit},     {"primary", r.metrics[0].name},
                        {"metrics", metrics},      {"items", r.items},         {"tokens", r.tokens},
                        {"chance", std::isfinite(task->chance()) ? nlohmann::json(task->chance()) : nlohmann::json(nullptr)},
                        {"seconds", secs}};
    write_file_atomic(out, j.dump(2) + "\n");
    std::printf("wrote %s\n", out.c_str());
  }
  return 0;
}

}  // namespace layerlab::cli
