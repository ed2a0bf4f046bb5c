// layerlab eval --model DIR --task T --data FILE [--plan P | --variant V --n N] [--limit K]
//               [--out results.json] [task options]
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

namespace layerlab::cli {

// Options shared by eval and sweep (cmd_sweep.cpp declares these two).
const std::set<std::string>& task_option_names() {
  static const std::set<std::string> names = {"limit",    "train",     "num-fewshot", "max-gen-tokens", "window",
                                              "stride",   "mask-rate", "mask-seed",   "batch-tokens"};
  return names;
}

TaskOptions task_options_from_args(const Args& args) {
  TaskOptions o;
  o.limit = args.get_int("limit", -1);
  if (args.has("limit") && o.limit < 1) fail("--limit", "must be a positive number of items");
  o.train_path = args.get("train", "");
  o.num_fewshot = static_cast<int>(args.get_int("num-fewshot", 5));
  o.max_gen_tokens = static_cast<int>(args.get_int("max-gen-tokens", 256));
  o.window = static_cast<int>(args.get_int("window", 0));
  o.stride = static_cast<int>(args.get_int("stride", 0));
  o.mask_rate = args.get_double("mask-rate", 0.15);
  o.mask_seed = static_cast<uint64_t>(args.get_int("mask-seed", 1234));
  o.score.batch_tokens = args.get_int("batch-tokens", 4096);
  if (o.score.batch_tokens < 1) fail("--batch-tokens", "must be positive");
  return o;
}

static std::string format_value(double v) {
  char b[32];
  if (!std::isfinite(v)) return "n/a";
  std::snprintf(b, sizeof b, "%.4f", v);
  return b;
}

int cmd_eval(const Argv& argv) {
  auto opts = model_options();
  opts.insert({"task", "data", "out"});
  opts.insert(task_option_names().begin(), task_option_names().end());
  Args args(argv, opts, {"add-bos"});
  const std::string task_name = args.require("task");
  const std::string data = args.require("data");
  if (args.has("out")) check_output_path(args.get("out"), "--out");  // before the work, not after
  LoadedModel m = open_model(args);
  const ModelConfig& cfg = m.model->config();
  const Plan plan = plan_from_args(args, cfg);
  const TaskOptions topts = task_options_from_args(args);
  auto tok = load_tokenizer(m.model->dir());
  const TextCodec codec = codec_for(*tok, args.has("add-bos"));
  auto task = make_task(task_name, data, codec, cfg, topts);
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
  if (args.has("out")) {
    nlohmann::json j = {{"task", task_name},       {"model", m.model->dir()}, {"data", data},
                        {"plan", plan_to_text(plan)}, {"limit", topts.limit},     {"primary", r.metrics[0].name},
                        {"metrics", metrics},      {"items", r.items},         {"tokens", r.tokens},
                        {"chance", std::isfinite(task->chance()) ? nlohmann::json(task->chance()) : nlohmann::json(nullptr)},
                        {"seconds", secs}};
    write_file_atomic(args.get("out"), j.dump(2) + "\n");
    std::printf("wrote %s\n", args.get("out").c_str());
  }
  return 0;
}

}  // namespace layerlab::cli
