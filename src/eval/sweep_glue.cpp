// GLUE sweeps: each configuration is one finetune::run (the one fine-tuning implementation)
// in its own folder, its dev result appended as one durable line; resume and refusal of a
// different setup as in run_sweep. Also the GLUE score (mean over tasks) per configuration.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/glue.h"
#include "layerlab/model.h"
#include "layerlab/sweep_glue.h"
#include "util/json_read.h"

namespace layerlab {

using nlohmann::json;
namespace fs = std::filesystem;

std::string glue_task_of(const std::string& task) { return task.rfind("glue:", 0) == 0 ? task.substr(5) : ""; }

std::vector<std::string> glue_tasks_with_train(const std::string& data_dir) {
  std::vector<std::string> out;
  for (const std::string& t : glue::task_names())
    if (file_exists(data_dir + "/" + t + "/train.jsonl")) out.push_back(t);
  return out;
}

json finetune_settings(const finetune::Options& o) {
  return {{"head_only", o.head_only},     {"epochs", o.epochs},         {"lr", o.lr},
          {"batch", o.batch},             {"max_length", o.max_length}, {"warmup_ratio", o.warmup_ratio},
          {"weight_decay", o.weight_decay}, {"clip", o.clip},           {"seed", o.seed},
          {"limit_train", o.limit_train}, {"limit_dev", o.limit_dev}};
}

namespace {

struct Config {
  SweepKey key;
  Plan plan;
};

const char* kBackend = "cpu";  // finetune runs on the CPU backend only

void check_identity(const json& r, const GlueSweepOptions& o, const json& settings, const std::string& path) {
  const std::string task = r.value("task", "");
  if (glue_task_of(task).empty())
    fail(path, "holds " + task + " results of an evaluation sweep; a GLUE sweep needs its own --out");
  auto mismatch = [&](const std::string& field, const json& want) {
    const json have = r.value(field, json());
    if (have.is_string() && want.is_string()) {
      std::error_code ea, eb;
      const auto a = fs::weakly_canonical(have.get<std::string>(), ea), b = fs::weakly_canonical(want.get<std::string>(), eb);
      if (!ea && !eb && a == b) return;  // paths compare as the files they name
    }
    if (have != want)
      fail(path, "holds " + task + " results with " + field + " = " + have.dump() + ", this sweep has " + want.dump() +
                     "; use another --out so results of different setups do not mix");
  };
  mismatch("model", o.model_dir);
  mismatch("data", o.data_dir);
  // Each fine-tuning setting by its name, so the error says which one changed.
  const json have = r.value("finetune", json());
  for (const auto& [name, want] : settings.items())
    if (!have.is_object() || !have.contains(name) || have[name] != want)
      fail(path, "holds " + task + " results with finetune." + name + " = " +
                     (have.is_object() && have.contains(name) ? have[name].dump() : std::string("(none)")) +
                     ", this sweep has " + want.dump() + "; use another --out so results of different setups do not mix");
  if (r.value("variant", "") == "looped_parallel") mismatch("k", o.k);
  mismatch("backend", kBackend);
}

std::string run_dir(const std::string& out, const SweepKey& k) {
  return out + ".runs/" + glue_task_of(k.task) + "." + k.variant + ".n" + std::to_string(k.n) + ".s" +
         std::to_string(k.seed);
}

json metric_entry(double v) { return {{"value", std::isfinite(v) ? json(v) : json(nullptr)}, {"stderr", nullptr}}; }

}  // namespace

SweepStats run_glue_sweep(const GlueSweepOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  SweepStats st;
  if (o.out.empty()) fail_option("out", "a sweep needs a results file");
  if (o.seeds < 1) fail_option("seeds", "must be at least 1");
  if (o.tasks.empty()) fail_option("tasks", "no GLUE task given");
  for (const std::string& t : o.tasks) glue::task_spec(t, "tasks");
  const int L = [&] {
    const auto model = load_model(o.model_dir);
    if (model->config().family != "bert")
      fail_option("model", "GLUE fine-tuning needs a BERT model; " + o.model_dir + " is " + model->config().family);
    return model->config().n_layer;
  }();
  const json settings = finetune_settings(o.finetune);
  const FileLock lock(o.out, "a sweep");  // one writer: no configuration runs twice

  std::set<SweepKey> done;
  for (const json& r : read_sweep_results(o.out, /*repair=*/true)) {
    check_identity(r, o, settings, o.out);
    done.insert(sweep_key(r, o.out));
  }
  // Per task: full first (N = 0, seed 0), then every variant at every N.
  std::vector<Config> todo;
  const bool want_full = std::find(o.variants.begin(), o.variants.end(), "full") != o.variants.end();
  for (const std::string& t : o.tasks) {
    const std::string task = "glue:" + t;
    std::vector<Config> cs;
    if (want_full) cs.push_back({{task, "full", 0, 0}, full_plan(L)});
    for (int n : o.ns)
      for (const std::string& v : o.variants) {
        if (v == "full") continue;
        for (int s = 0; s < (v == "shuffle" ? o.seeds : 1); ++s)
          cs.push_back({{task, v, n, uint64_t(s)}, make_variant(v, L, n, o.k, uint64_t(s))});
      }
    for (Config& c : cs) {
      ++st.configs_total;
      if (done.count(c.key)) ++st.configs_done_before;
      else todo.push_back(std::move(c));
    }
  }
  if (o.progress && o.added_full) std::fprintf(stderr, "sweep: adding the baseline 'full' (every summary needs it)\n");
  if (o.progress && st.configs_done_before > 0)
    std::fprintf(stderr, "%s: %d of %d configurations already done, resuming\n", o.out.c_str(), st.configs_done_before,
                 st.configs_total);

  for (size_t i = 0; i < todo.size(); ++i) {
    const Config& c = todo[i];
    finetune::Options f = o.finetune;
    f.model_dir = o.model_dir;
    f.data_dir = o.data_dir;
    f.task = glue_task_of(c.key.task);
    f.plan = c.plan;
    f.out_dir = run_dir(o.out, c.key);
    f.stop_after = 0;
    f.record_steps = 0;
    // A folder left by a stopped run of this very configuration continues from its last epoch;
    // anything else in it is stale and starts over.
    const json stamp = {{"settings", settings}, {"plan", plan_to_text(c.plan)}, {"model", o.model_dir}, {"data", o.data_dir}};
    const std::string stamp_path = f.out_dir + "/sweep_config.json";
    f.resume = file_exists(stamp_path) && read_json_file(stamp_path) == stamp;
    if (!f.resume) {
      std::error_code ec;
      fs::remove_all(f.out_dir, ec);
      fs::create_directories(f.out_dir, ec);
      if (ec) fail(f.out_dir, "cannot create the fine-tuning folder: " + ec.message());
      write_file_atomic(stamp_path, stamp.dump() + "\n");
    }
    if (o.progress)
      std::fprintf(stderr, "sweep: %s (%zu of %zu to run)%s\n", c.key.text().c_str(), i + 1, todo.size(),
                   f.resume ? ", continuing its stopped run" : "");
    const auto c0 = std::chrono::steady_clock::now();
    const json r = finetune::run(f);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
    json metrics = {{"task_score", metric_entry(r.at("task_score").get<double>())}};
    for (const auto& [name, v] : r.at("dev").items()) metrics[name] = metric_entry(v.get<double>());
    const json& last = r.at("history").back();
    json line = {{"task", c.key.task},
                 {"variant", c.key.variant},
                 {"n", c.key.n},
                 {"seed", c.key.seed},
                 {"k", o.k},
                 {"plan", plan_to_text(c.plan)},
                 {"primary", "task_score"},
                 {"score", metrics["task_score"]["value"]},
                 {"chance", nullptr},  // no single chance level for MCC / F1 / correlations
                 {"higher_is_better", true},
                 {"metrics", metrics},
                 {"items", r.at("dev_examples")},
                 {"train_examples", r.at("train_examples")},
                 {"train_loss", last.at("train_loss")},
                 {"tokens", 0},
                 {"model", o.model_dir},
                 {"backend", kBackend},
                 {"data", o.data_dir},
                 {"finetune", settings},
                 {"seconds", secs}};
    append_line_durable(o.out, line.dump());
    ++st.configs_run;
    ++st.plans_evaluated;
    // The checkpoint (model-sized for full fine-tuning) is only needed to continue a stopped run.
    std::error_code ec;
    fs::remove(f.out_dir + "/checkpoint.safetensors", ec);
  }
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return st;
}

std::vector<GlueScoreRow> glue_score_rows(const std::vector<json>& records) {
  std::set<std::string> tasks;
  std::map<std::tuple<int, std::string, int, uint64_t>, GlueScoreRow> rows;  // full first
  for (const json& r : records) {
    const SweepKey k = sweep_key(r, "results");
    if (glue_task_of(k.task).empty()) continue;
    tasks.insert(k.task);
    GlueScoreRow& row = rows[{k.variant == "full" ? 0 : 1, k.variant, k.n, k.seed}];
    row.variant = k.variant;
    row.n = k.n;
    row.seed = k.seed;
    row.per_task[k.task] = r.contains("score") && r["score"].is_number() ? r["score"].get<double>() : NAN;
  }
  std::vector<GlueScoreRow> out;
  for (auto& [_, row] : rows) {
    std::vector<double> scores;
    for (const std::string& t : tasks)
      scores.push_back(row.per_task.count(t) ? row.per_task[t] : NAN);
    bool all = true;
    for (double s : scores) all = all && std::isfinite(s);
    row.glue = all ? glue::glue_score(scores) : NAN;
    out.push_back(std::move(row));
  }
  return out;
}

std::string format_glue_summary(const std::vector<GlueScoreRow>& rows) {
  std::set<std::string> tasks;
  for (const auto& r : rows)
    for (const auto& [t, _] : r.per_task) tasks.insert(t);
  std::string s;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%-16s %4s %5s", "variant", "N", "seed");
  s += buf;
  for (const auto& t : tasks) {
    std::snprintf(buf, sizeof buf, " %11s", t.c_str());
    s += buf;
  }
  s += "        glue\n";
  auto cell = [&](double v) {
    if (std::isfinite(v)) std::snprintf(buf, sizeof buf, " %11.4f", v);
    else std::snprintf(buf, sizeof buf, " %11s", "-");
    return std::string(buf);
  };
  for (const auto& r : rows) {
    std::snprintf(buf, sizeof buf, "%-16s %4d %5llu", r.variant.c_str(), r.n, static_cast<unsigned long long>(r.seed));
    s += buf;
    for (const auto& t : tasks) s += cell(r.per_task.count(t) ? r.per_task.at(t) : NAN);
    s += cell(r.glue) + "\n";
  }
  return s;
}

}  // namespace layerlab
