// layerlab eval --model DIR --task T (--data FILE | --data-dir DIR) [--plan P | --variant V --n N] [--limit K]
//               [--out results.json] [--log-samples FILE] [--resume] [task options]
// Everything is checked before the work: a file without items is an error naming it.
// Scores one benchmark under one plan; prints every metric with its standard error. Items are
// recorded as they finish (eval_records.h), so a killed run resumes where it stopped.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "eval_records.h"
#include "layerlab/error.h"
#include "layerlab/eval.h"
#include "layerlab/fs.h"
#include "layerlab/progress.h"
#include "layerlab/tokenizer.h"
#include "model_args.h"
#include "task_args.h"

namespace layerlab::cli {

namespace {

// Raised by --stop-after-items once enough items are recorded (caught below).
struct StopAfterItems {
  int64_t done;
};

std::string canonical(const std::string& p) {
  std::error_code ec;
  const auto c = std::filesystem::weakly_canonical(p, ec);
  return ec ? p : c.string();
}

}  // namespace

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
  std::string samples;
  bool resume = false;
  int64_t stop_after = 0;
  o.text("--out", out, "FILE",
         "also write the metrics as JSON to this file; items are recorded in FILE.items.jsonl as they finish "
         "(removed at the end) unless --log-samples names the records file",
         "not written");
  o.text("--log-samples", samples, "FILE",
         "one JSON line per item (lm-eval's --log_samples): requests, log-likelihoods, greedy flags, prediction, "
         "gold, generations; appended as items finish, first line the run's setup",
         "not written");
  o.flag("--resume", resume,
         "continue a stopped or killed run from its records file (--log-samples, else --out's FILE.items.jsonl): "
         "recorded items are not scored again; the result equals an uninterrupted run's");
  o.integer("--stop-after-items", stop_after,
            "stop once at least K items are recorded (whole chunks of up to 64 items; continue with --resume)", 1,
            INT64_MAX, "no stop");
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
  if (o.given("--log-samples")) check_output_path(samples, "--log-samples");
  const std::string records_path = o.given("--log-samples") ? samples : o.given("--out") ? out + ".items.jsonl" : "";
  if (records_path.empty() && (resume || o.given("--stop-after-items")))
    fail(resume ? "--resume" : "--stop-after-items", "needs a records file: give --out FILE or --log-samples FILE");
  LoadedModel m = open_model(ma);
  const ModelConfig& cfg = m.model->config();
  const Plan plan = plan_from_args(o, pa, cfg);
  const TaskOptions& topts = ta.t;
  auto tok = load_tokenizer(m.model->dir());
  check_task_args_for_model(o, ta, {task_name}, m.model->dir(), cfg, *tok);
  const TextCodec codec = codec_for(*tok, ta.add_bos);
  auto task = make_task(task_name, data, codec, cfg, topts);
  check_task_has_items(task_name, data, *task, codec, ta);
  Runner runner(*m.model, *m.backend);

  // Everything that changes a score: a resumed run must match it field for field.
  const nlohmann::json setup = {{"task", task_name},
                                {"model", canonical(m.model->dir())},
                                {"data", canonical(data)},
                                {"plan", plan_to_text(plan)},
                                {"items", task->size()},
                                {"limit", topts.limit},
                                {"window", topts.window},
                                {"stride", topts.stride},
                                {"num_fewshot", topts.num_fewshot},
                                {"train", topts.train_path},
                                {"max_gen_tokens", topts.max_gen_tokens},
                                {"mask_rate", topts.mask_rate},
                                {"mask_seed", topts.mask_seed},
                                {"batch_tokens", topts.score.batch_tokens},
                                {"context_sharing", topts.score.context_sharing},
                                {"add_bos", codec.add_bos},
                                {"backend", runner.backend().name()}};
  std::unique_ptr<EvalRecords> records;
  if (!records_path.empty()) records = std::make_unique<EvalRecords>(records_path, setup, task_name, resume);

  const auto t0 = std::chrono::steady_clock::now();
  Progress bar("eval " + task_name, task->work_tokens(), "tokens");
  EvalHooks hooks;
  std::map<int64_t, ItemRecord> all;  // plan 0's records, for tidying a resumed file
  if (records) {
    hooks.resumed = records->resumed();
    all = hooks.resumed;
    if (!all.empty())
      std::fprintf(stderr, "%s: %zu item records already there, resuming\n", records->path().c_str(), all.size());
  }
  int64_t items_done = 0;  // in the task's unit (mlm: masked tokens), resumed ones included
  hooks.progress = [&](int64_t items, int64_t tokens, bool resumed) {
    items_done += items;
    bar.set_detail(std::to_string(items_done) + " items");
    resumed ? bar.skip(tokens) : bar.add(tokens);
  };
  hooks.on_chunk = [&](size_t, const std::vector<ItemRecord>& chunk) {
    if (!records) return;
    records->append(chunk);
    for (const ItemRecord& r : chunk) all[r.index] = r;
    // progress() came first, so items_done includes this chunk
    if (stop_after > 0 && items_done >= stop_after && items_done < task->size()) throw StopAfterItems{items_done};
  };
  TaskResult r;
  try {
    r = task->run(runner, {plan}, hooks)[0];
  } catch (const StopAfterItems& s) {
    bar.finish();
    std::printf("stopped after %lld of %lld items (--stop-after-items); recorded in %s, continue with --resume\n",
                static_cast<long long>(s.done), static_cast<long long>(task->size()), records->path().c_str());
    return 0;
  }
  bar.finish();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (records && !hooks.resumed.empty()) {
    std::vector<ItemRecord> in_order;
    for (auto& [i, rec] : all) in_order.push_back(std::move(rec));
    records->tidy(in_order);
  }

  std::printf("task %s, %lld items%s, plan %s\n", task_name.c_str(), static_cast<long long>(r.items),
              r.tokens ? (", " + std::to_string(r.tokens) + " tokens").c_str() : "", plan_to_text(plan).c_str());
  nlohmann::json metrics = nlohmann::json::object();
  for (const Metric& x : r.metrics) {
    std::printf("  %-22s %10s  +/- %s\n", x.name.c_str(), format_value(x.value).c_str(), format_value(x.stderr_).c_str());
    metrics[x.name] = {{"value", std::isfinite(x.value) ? nlohmann::json(x.value) : nlohmann::json(nullptr)},
                       {"stderr", std::isfinite(x.stderr_) ? nlohmann::json(x.stderr_) : nlohmann::json(nullptr)}};
  }
  if (std::isfinite(task->chance())) std::printf("  (chance level of %s: %.4f)\n", r.metrics[0].name.c_str(), task->chance());
  if (records && o.given("--log-samples")) std::printf("wrote %s (%lld items)\n", samples.c_str(), static_cast<long long>(r.items));
  if (o.given("--out")) {
    nlohmann::json j = {{"task", task_name},       {"model", m.model->dir()}, {"data", data},
                        {"plan", plan_to_text(plan)}, {"limit", topts.limit},     {"primary", r.metrics[0].name},
                        {"metrics", metrics},      {"items", r.items},         {"tokens", r.tokens},
                        {"chance", std::isfinite(task->chance()) ? nlohmann::json(task->chance()) : nlohmann::json(nullptr)},
                        {"seconds", secs}};
    write_file_atomic(out, j.dump(2) + "\n");
    std::printf("wrote %s\n", out.c_str());
    if (records && !o.given("--log-samples")) {  // the metrics are in --out now
      records.reset();
      std::filesystem::remove(records_path);
      std::filesystem::remove(records_path + ".lock");
    }
  }
  return 0;
}

}  // namespace layerlab::cli
