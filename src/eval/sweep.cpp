// The sweep runner: configurations grouped by (task, N), prefix reuse inside a group,
// durable one-line-per-result appends and resume.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <cmath>
#include <cstdio>
#include <set>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/progress.h"
#include "layerlab/sweep.h"
#include "util/json_depth.h"

namespace layerlab {

using nlohmann::json;

std::string SweepKey::text() const {
  return task + "/" + variant + "/N=" + std::to_string(n) + "/seed=" + std::to_string(seed);
}

SweepKey sweep_key(const json& r, const std::string& where) {
  try {
    return {r.at("task").get<std::string>(), r.at("variant").get<std::string>(), r.at("n").get<int>(),
            r.at("seed").get<uint64_t>()};
  } catch (const json::exception& e) {
    fail(where, std::string("result line lacks task/variant/n/seed: ") + e.what());
  }
}

std::vector<json> read_sweep_results(const std::string& path, bool repair) {
  std::vector<json> out;
  if (!file_exists(path)) return out;
  const std::string text = read_text_file(path);
  const size_t whole = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;  // end of the last whole line
  int line_no = 0;
  for (size_t pos = 0; pos < whole;) {
    const size_t end = text.find('\n', pos);
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    const std::string where = path + ":" + std::to_string(++line_no);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    check_json_depth(line, where);
    try {
      out.push_back(json::parse(line));
    } catch (const json::exception& e) {  // also out_of_range: a number such as 1e999
      // An append is one write(2) of a whole line, so a broken line in the middle of the
      // file is not something an interrupted sweep produces.
      fail(where, std::string("not a valid JSON result line: ") + e.what());
    }
    sweep_key(out.back(), where);
  }
  // The text after the last newline is a write cut short by a kill (skipped), or, if it
  // parses, a whole record whose newline was lost (kept).
  const std::string tail = text.substr(whole);
  if (tail.find_first_not_of(" \t\r") == std::string::npos) return out;
  std::string kept = text.substr(0, whole);
  const std::string tail_where = path + ":" + std::to_string(line_no + 1);
  check_json_depth(tail, tail_where);
  try {
    json j = json::parse(tail);
    sweep_key(j, tail_where);
    kept += tail + "\n";
    out.push_back(std::move(j));
  } catch (const json::exception&) {
  }
  // Rewrite so the next append starts on a fresh line instead of gluing onto the tail.
  if (repair) write_file_atomic(path, kept);
  return out;
}

namespace {

struct Config {
  SweepKey key;
  Plan plan;
};

json metrics_json(const TaskResult& r) {
  json m = json::object();
  for (const Metric& x : r.metrics)
    m[x.name] = {{"value", std::isfinite(x.value) ? json(x.value) : json(nullptr)},
                 {"stderr", std::isfinite(x.stderr_) ? json(x.stderr_) : json(nullptr)}};
  return m;
}

bool same_file_path(const std::string& a, const std::string& b) {
  if (a == b) return true;
  if (a.empty() || b.empty()) return false;
  std::error_code ea, eb;
  const auto ca = std::filesystem::weakly_canonical(a, ea), cb = std::filesystem::weakly_canonical(b, eb);
  return !ea && !eb && ca == cb;
}

void check_identity(const json& r, const SweepOptions& o, const std::string& backend, const std::string& path) {
  const std::string task = r.value("task", "");
  if (task.rfind("glue:", 0) == 0)
    fail(path, "holds " + task + " results of a GLUE fine-tuning sweep; an evaluation sweep needs its own --out");
  auto mismatch = [&](const std::string& field, const json& want) {
    const json have = r.value(field, json());
    // Paths compare as the files they name: "m" and "/abs/m" are one model.
    if (have.is_string() && want.is_string() && same_file_path(have.get<std::string>(), want.get<std::string>())) return;
    if (have != want)
      fail(path, "holds " + task + " results with " + field + " = " + r.value(field, json()).dump() + ", this sweep has " +
                     want.dump() + "; use another --out so results of different setups do not mix");
  };
  mismatch("model", o.model_dir);
  if (o.data.count(task)) mismatch("data", o.data.at(task));
  mismatch("limit", o.limit);
  if (r.value("variant", "") == "looped_parallel") mismatch("k", o.k);
  // Lines written before the backend was recorded carry none: they are taken as they are.
  if (r.contains("backend")) mismatch("backend", backend);  // "cpu", "cuda-bf16", ...: bf16 and f32 must not mix
  // Lines from before add_bos was recorded were run without BOS unless --add-bos was given
  // (then Llama's default changed to BOS: docs/EVAL.md "BOS").
  if (task != "perplexity" && task != "mlm" && r.value("add_bos", false) != o.add_bos)
    fail(path, "holds " + task + " results with add_bos = " + (o.add_bos ? "false" : "true") + ", this sweep has " +
                   (o.add_bos ? "true" : "false") + " (the model's BOS policy or --add-bos / --no-add-bos); give " +
                   (o.add_bos ? "--no-add-bos" : "--add-bos") + " to continue it, or use another --out");
}

}  // namespace

SweepStats run_sweep(Runner& runner, std::map<std::string, std::unique_ptr<Task>>& tasks, const SweepOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const int L = runner.model().config().n_layer;
  SweepStats st;
  if (o.out.empty()) fail_option("out", "a sweep needs a results file");
  if (o.seeds < 1) fail_option("seeds", "must be at least 1");
  // Held until the sweep returns: a second sweep on this file is refused, so no configuration
  // is run twice and the start-up repair below never races an append.
  const FileLock lock(o.out, "a sweep");

  std::set<SweepKey> done;
  for (const json& r : read_sweep_results(o.out, /*repair=*/true)) {
    check_identity(r, o, runner.backend().name(), o.out);
    done.insert(sweep_key(r, o.out));
  }

  // Groups: per task, per N, every variant at that N; "full" joins the first group.
  struct Group {
    std::string task;
    std::vector<Config> configs;
  };
  std::vector<Group> groups;
  const bool want_full = std::find(o.variants.begin(), o.variants.end(), "full") != o.variants.end();
  for (const auto& [task, _] : tasks) {
    bool full_placed = false;
    for (int n : o.ns) {
      Group g{task, {}};
      if (want_full && !full_placed) {
        g.configs.push_back({{task, "full", 0, 0}, full_plan(L)});
        full_placed = true;
      }
      for (const std::string& v : o.variants) {
        if (v == "full") continue;
        const int seeds = v == "shuffle" ? o.seeds : 1;
        for (int s = 0; s < seeds; ++s)
          g.configs.push_back({{task, v, n, uint64_t(s)}, make_variant(v, L, n, o.k, uint64_t(s))});
      }
      groups.push_back(std::move(g));
    }
    if (o.ns.empty() && want_full) groups.push_back({task, {{{task, "full", 0, 0}, full_plan(L)}}});
  }

  // Pending work, for the progress bar: items x distinct plans.
  int64_t total_work = 0;
  for (Group& g : groups) {
    std::vector<Config> pending;
    for (Config& c : g.configs) {
      ++st.configs_total;
      if (done.count(c.key))
        ++st.configs_done_before;
      else
        pending.push_back(std::move(c));
    }
    g.configs = std::move(pending);
    std::set<std::string> distinct;
    for (const Config& c : g.configs) distinct.insert(plan_to_text(c.plan));
    total_work += tasks.at(g.task)->work_tokens() * int64_t(distinct.size());  // tokens: items vary in length
  }
  if (o.progress && st.configs_done_before > 0)
    std::fprintf(stderr, "%s: %d of %d configurations already done, resuming\n", o.out.c_str(), st.configs_done_before,
                 st.configs_total);
  std::unique_ptr<Progress> bar;
  if (o.progress) bar = std::make_unique<Progress>("sweep", total_work, "tokens");

  for (const Group& g : groups) {
    if (g.configs.empty()) continue;
    Task& task = *tasks.at(g.task);
    // Identical plans (e.g. variants that coincide for small middles) are scored once.
    std::vector<Plan> plans;
    std::vector<size_t> plan_of;
    for (const Config& c : g.configs) {
      size_t i = 0;
      while (i < plans.size() && !(plans[i] == c.plan)) ++i;
      if (i == plans.size()) plans.push_back(c.plan);
      plan_of.push_back(i);
    }
    const auto g0 = std::chrono::steady_clock::now();
    EvalHooks hooks;
    hooks.progress = [&](int64_t, int64_t tokens, bool) {
      if (bar) bar->add(tokens * int64_t(plans.size()));
    };
    std::vector<std::string> sample_files;  // per configuration
    if (!o.log_samples_dir.empty()) {
      for (const Config& c : g.configs) {
        const std::string f = o.log_samples_dir + "/" + c.key.task + "." + c.key.variant + ".n" + std::to_string(c.key.n) +
                              ".seed" + std::to_string(c.key.seed) + ".jsonl";
        const json setup = {{"task", c.key.task}, {"variant", c.key.variant}, {"n", c.key.n}, {"seed", c.key.seed},
                            {"plan", plan_to_text(c.plan)}, {"model", o.model_dir},
                            {"data", o.data.count(c.key.task) ? o.data.at(c.key.task) : ""}, {"limit", o.limit},
                            {"add_bos", o.add_bos}, {"backend", runner.backend().name()}};
        write_file_atomic(f, json{{"setup", setup}}.dump() + "\n");  // a group cut short starts afresh
        sample_files.push_back(f);
      }
      hooks.on_chunk = [&](size_t p, const std::vector<ItemRecord>& chunk) {
        std::string lines;
        for (const ItemRecord& r : chunk) lines += (lines.empty() ? "" : "\n") + item_record_line(r, g.task);
        for (size_t i = 0; i < g.configs.size(); ++i)
          if (plan_of[i] == p && !lines.empty()) append_line_durable(sample_files[i], lines);
      };
    }
    const std::vector<TaskResult> results = task.run(runner, plans, hooks);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count();
    st.plans_evaluated += static_cast<int>(plans.size());
    for (size_t i = 0; i < g.configs.size(); ++i) {
      const Config& c = g.configs[i];
      const TaskResult& r = results[plan_of[i]];
      json line = {{"task", c.key.task},
                   {"variant", c.key.variant},
                   {"n", c.key.n},
                   {"seed", c.key.seed},
                   {"k", o.k},
                   {"plan", plan_to_text(c.plan)},
                   {"primary", r.metrics[0].name},
                   {"score", std::isfinite(r.metrics[0].value) ? json(r.metrics[0].value) : json(nullptr)},
                   {"chance", std::isfinite(task.chance()) ? json(task.chance()) : json(nullptr)},
                   {"higher_is_better", task.higher_is_better()},
                   {"metrics", metrics_json(r)},
                   {"items", r.items},
                   {"tokens", r.tokens},
                   {"model", o.model_dir},
                   {"backend", runner.backend().name()},
                   {"add_bos", o.add_bos},
                   {"data", o.data.count(c.key.task) ? o.data.at(c.key.task) : ""},
                   {"limit", o.limit},
                   {"seconds", secs / plans.size()}};
      append_line_durable(o.out, line.dump());
      ++st.configs_run;
    }
  }
  if (bar) bar->finish();
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return st;
}

double median_of(std::vector<double> xs) {
  if (xs.empty()) return std::nan("");
  std::sort(xs.begin(), xs.end());
  const size_t m = xs.size() / 2;
  return xs.size() % 2 ? xs[m] : 0.5 * (xs[m - 1] + xs[m]);
}

std::vector<NormalisedRow> normalise_results(const std::vector<json>& records) {
  std::map<std::string, double> full, chance;
  for (const json& r : records) {
    if (r.value("variant", "") != "full" || !r.contains("score") || !r["score"].is_number()) continue;
    if (!r.contains("chance") || !r["chance"].is_number()) continue;  // no chance level: not normalisable
    full[r["task"]] = r["score"].get<double>();
    chance[r["task"]] = r["chance"].get<double>();
  }
  std::map<std::tuple<std::string, int, uint64_t>, NormalisedRow> rows;
  for (const json& r : records) {
    const std::string task = r.value("task", "");
    if (!full.count(task) || !r.contains("score") || !r["score"].is_number()) continue;
    const double denom = full[task] - chance[task];
    if (denom == 0) continue;
    const SweepKey k = sweep_key(r, "results");
    NormalisedRow& row = rows[{k.variant, k.n, k.seed}];
    row.variant = k.variant;
    row.n = k.n;
    row.seed = k.seed;
    row.per_task[task] = (r["score"].get<double>() - chance[task]) / denom;
  }
  std::vector<NormalisedRow> out;
  for (auto& [_, row] : rows) {
    std::vector<double> v;
    for (const auto& [t, x] : row.per_task) v.push_back(x);
    row.median = median_of(v);
    out.push_back(row);
  }
  return out;
}

std::string format_summary(const std::vector<NormalisedRow>& rows) {
  std::set<std::string> tasks;
  for (const auto& r : rows)
    for (const auto& [t, _] : r.per_task) tasks.insert(t);
  std::string s;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%-16s %4s %5s", "variant", "N", "seed");
  s += buf;
  for (const auto& t : tasks) {
    std::snprintf(buf, sizeof buf, " %14s", t.c_str());
    s += buf;
  }
  s += "         median\n";
  for (const auto& r : rows) {
    std::snprintf(buf, sizeof buf, "%-16s %4d %5llu", r.variant.c_str(), r.n, static_cast<unsigned long long>(r.seed));
    s += buf;
    for (const auto& t : tasks) {
      if (r.per_task.count(t))
        std::snprintf(buf, sizeof buf, " %14.4f", r.per_task.at(t));
      else
        std::snprintf(buf, sizeof buf, " %14s", "-");
      s += buf;
    }
    std::snprintf(buf, sizeof buf, " %14.4f\n", r.median);
    s += buf;
  }
  return s;
}

}  // namespace layerlab
