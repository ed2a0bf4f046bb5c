// layerlab sweep --model DIR --variants all --n 1..H --tasks t1,t2 --data t1=FILE,t2=FILE
//                --seeds 10 --out results.jsonl [--limit K] [--k 3] [--no-prefix-reuse]
// layerlab sweep --summary results.jsonl [--format text|csv|markdown]
// Every (task, variant, N, seed) once, appended durably; a rerun resumes where it stopped.
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "commands.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/sweep_runner.h"
#include "layerlab/tokenizer.h"
#include "model_args.h"

namespace layerlab::cli {

const std::set<std::string>& task_option_names();          // cmd_eval.cpp
TaskOptions task_options_from_args(const Args& args);       // cmd_eval.cpp

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, sep);)
    if (!item.empty()) out.push_back(item);
  return out;
}

int parse_int(const std::string& s, const std::string& flag) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0') fail(flag, "'" + s + "' is not an integer");
  if (errno == ERANGE || v < INT_MIN || v > INT_MAX) fail(flag, "'" + s + "' is out of range");
  return static_cast<int>(v);
}

// "1..11", "2,4,6", "1..3,8" or "all" (every N >= 1 that leaves a middle).
std::vector<int> parse_ns(const std::string& s, int n_layer) {
  // Every N (a range by its ends, before it is expanded: "1..99999999" builds nothing).
  auto checked = [n_layer](int n) {
    if (n < 0 || 2 * static_cast<long>(n) >= n_layer)
      fail("--n", "N = " + std::to_string(n) + " leaves no middle layers in a " + std::to_string(n_layer) + "-layer model");
    return n;
  };
  std::vector<int> ns;
  if (s == "all") {
    for (int n = 1; 2 * n < n_layer; ++n) ns.push_back(n);
    return ns;
  }
  for (const std::string& part : split(s, ',')) {
    const size_t dots = part.find("..");
    if (dots == std::string::npos) {
      ns.push_back(checked(parse_int(part, "--n")));
      continue;
    }
    const int a = parse_int(part.substr(0, dots), "--n"), b = parse_int(part.substr(dots + 2), "--n");
    if (b < a) fail("--n", "empty range '" + part + "'");
    checked(a);
    checked(b);
    for (int n = a; n <= b; ++n) ns.push_back(n);
  }
  return ns;
}

// Every sweep has a table of scores; the normalised summary needs 'full' results of tasks
// with a chance level (not perplexity-only sweeps).
// Absolute and free of "..", so that resuming with another spelling of a path matches.
std::string canonical_path(const std::string& p) {
  std::error_code ec;
  const auto c = std::filesystem::weakly_canonical(p, ec);
  return ec ? p : c.string();
}

int summary(const std::string& path, const std::string& format) {
  const auto records = read_sweep_results(path);
  if (records.empty()) fail(path, "no results");
  const std::string table = format_results_table(records, format);
  if (format != "text") {
    std::fputs(table.c_str(), stdout);
    return 0;
  }
  std::printf("scores (primary metric, standard error)\n%s", table.c_str());
  const auto rows = normalise_results(records);
  if (rows.empty()) {
    std::printf("\nno normalised summary: it needs 'full' results of tasks with a chance level\n");
    return 0;
  }
  std::printf("\nnormalised score (score - chance) / (full - chance), median over tasks\n%s", format_summary(rows).c_str());
  return 0;
}

}  // namespace

int cmd_sweep(const Argv& argv) {
  std::set<std::string> opts = {"model", "device", "dtype", "threads", "variants", "n",
                                "k",     "tasks",  "data",  "seeds",   "out",    "format"};
  opts.insert(task_option_names().begin(), task_option_names().end());
  Args args(argv, opts, {"no-prefix-reuse", "add-bos", "summary", "quiet"});
  if (args.has("summary")) {
    if (args.positional().size() != 1) fail("--summary", "give one results file: layerlab sweep --summary results.jsonl");
    for (const std::string& o : opts)
      if (o != "format" && args.has(o)) fail("--" + o, "does not apply to --summary (it only reads the results file)");
    for (const char* f : {"no-prefix-reuse", "add-bos", "quiet"})
      if (args.has(f)) fail(std::string("--") + f, "does not apply to --summary (it only reads the results file)");
    return summary(args.positional()[0], args.get("format", "text"));
  }
  if (args.has("format")) fail("--format", "applies only to --summary");
  if (!args.positional().empty()) fail(args.positional()[0], "unexpected argument");
  check_output_path(args.require("out"), "--out");  // before the model loads, not after the work
  LoadedModel m = open_model(args);
  const ModelConfig& cfg = m.model->config();

  SweepOptions o;
  o.out = args.require("out");
  o.model_dir = canonical_path(m.model->dir());
  const std::string vs = args.get("variants", "all");
  o.variants = vs == "all" ? variant_names() : split(vs, ',');
  for (const auto& v : o.variants) make_variant(v, cfg.n_layer, 0, 3, 0);  // validates the name
  // The baseline is what every figure and the normalised summary divide by: always run it.
  if (std::find(o.variants.begin(), o.variants.end(), "full") == o.variants.end()) {
    o.variants.insert(o.variants.begin(), "full");
    if (!args.has("quiet")) std::fprintf(stderr, "sweep: adding the baseline 'full' (every summary needs it)\n");
  }
  o.ns = parse_ns(args.get("n", "all"), cfg.n_layer);
  o.seeds = static_cast<int>(args.get_int("seeds", 1));
  o.k = static_cast<int>(args.get_int("k", 3));
  o.prefix_reuse = !args.has("no-prefix-reuse");
  o.progress = !args.has("quiet");
  TaskOptions topts = task_options_from_args(args);
  topts.score.prefix_reuse = o.prefix_reuse;
  o.limit = topts.limit;
  for (const std::string& kv : split(args.require("data"), ',')) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) fail("--data", "expected TASK=FILE pairs, got '" + kv + "'");
    o.data[kv.substr(0, eq)] = canonical_path(kv.substr(eq + 1));
  }
  auto tok = load_tokenizer(m.model->dir());
  const TextCodec codec = codec_for(*tok, args.has("add-bos"));
  std::map<std::string, std::unique_ptr<Task>> tasks;
  for (const std::string& t : split(args.require("tasks"), ',')) {
    if (!o.data.count(t)) fail("--data", "no data file for task '" + t + "' (give " + t + "=FILE)");
    tasks[t] = make_task(t, o.data[t], codec, cfg, topts);
  }
  for (const auto& [t, _] : o.data)
    if (!tasks.count(t)) fail("--data", "task '" + t + "' has data but is not in --tasks");
  Runner runner(*m.model, *m.backend);
  const SweepStats st = run_sweep(runner, tasks, o);
  std::printf("%d configurations: %d already in %s, %d run now (%d distinct plans) in %.1f s\n", st.configs_total,
              st.configs_done_before, o.out.c_str(), st.configs_run, st.plans_evaluated, st.seconds);
  return 0;
}

}  // namespace layerlab::cli
