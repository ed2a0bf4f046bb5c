// layerlab sweep --model DIR --variants all --n 1..H --tasks t1,t2 (--data t1=FILE,t2=FILE | --data-dir DIR)
//                --seeds 10 --out results.jsonl [--limit K] [--k 3] [--no-prefix-reuse]
// layerlab sweep --model BERT --tasks glue:sst2,glue:rte|glue:all --data-dir DIR --out results.jsonl
//                [--epochs E --lr LR --batch B --max-length L --head-only --limit-train K --limit-dev K --seed S]
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
#include "layerlab/glue.h"
#include "layerlab/model.h"
#include "layerlab/sweep.h"
#include "layerlab/sweep_glue.h"
#include "layerlab/tokenizer.h"
#include "model_args.h"
#include "task_args.h"

namespace layerlab::cli {

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, sep);)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (const auto& x : xs) out += (out.empty() ? "" : ", ") + x;
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
  const auto glue_rows = glue_score_rows(records);
  if (!glue_rows.empty())
    std::printf("\nGLUE: task scores and their unweighted mean\n%s", format_glue_summary(glue_rows).c_str());
  const auto rows = normalise_results(records);
  if (rows.empty()) {
    if (!glue_rows.empty()) return 0;  // GLUE lines have no chance level to normalise by
    std::printf("\nno normalised summary: it needs 'full' results of tasks with a chance level\n");
    return 0;
  }
  std::printf("\nnormalised score (score - chance) / (full - chance), median over tasks\n%s", format_summary(rows).c_str());
  return 0;
}

// The fine-tuning options: GLUE tasks only.
const std::vector<std::string> kFinetuneFlags = {"--epochs", "--lr", "--batch", "--max-length",
                                                 "--head-only", "--limit-train", "--limit-dev", "--seed"};

// --tasks glue:...: each configuration fine-tuned and evaluated by finetune::run (CPU).
int glue_sweep(const Options& o, GlueSweepOptions so, const std::vector<std::string>& task_list,
               const std::string& ns_text, const std::string& data_dir, const std::string& model, int threads) {
  static const std::vector<std::string> allowed = {"--model", "--tasks", "--data-dir", "--out", "--variants", "--n",
                                                   "--k", "--seeds", "--quiet", "--threads"};
  for (const std::string& g : o.given_names())
    if (std::find(allowed.begin(), allowed.end(), g) == allowed.end() &&
        std::find(kFinetuneFlags.begin(), kFinetuneFlags.end(), g) == kFinetuneFlags.end())
      fail(g, "does not apply to glue: tasks (they are fine-tuned on the CPU, see layerlab finetune --help)");
  if (!o.given("--data-dir")) fail("--data-dir", "glue: tasks need the GLUE folder (DIR/<task>/{train,validation}.jsonl)");
  if (!is_directory(data_dir)) fail("--data-dir", "'" + data_dir + "' is not a folder");
  for (const std::string& t : task_list) {
    const std::string name = glue_task_of(t);
    if (name.empty())
      fail("--tasks", "'" + t + "' is not a glue: task; fine-tuning and evaluation sweeps need separate --out files");
    if (name == "all") {
      const auto with_train = glue_tasks_with_train(data_dir);
      if (with_train.empty()) fail("--data-dir", "no GLUE task has a train.jsonl under '" + data_dir + "'");
      for (const auto& w : with_train)
        if (std::find(so.tasks.begin(), so.tasks.end(), w) == so.tasks.end()) so.tasks.push_back(w);
      continue;
    }
    glue::task_spec(name, "--tasks");
    const std::string train = data_dir + "/" + name + "/train.jsonl";
    if (!file_exists(train)) fail("--tasks", "glue:" + name + " has no training set: '" + train + "' is missing");
    if (std::find(so.tasks.begin(), so.tasks.end(), name) == so.tasks.end()) so.tasks.push_back(name);
  }
  check_output_path(so.out, "--out");
  apply_threads(threads);
  so.data_dir = canonical_path(data_dir);
  int n_layer = 0;
  {
    auto m = load_model(model);
    if (m->config().family != "bert")
      fail("--model", "glue: tasks fine-tune a BERT model; this one is " + m->config().family);
    so.model_dir = canonical_path(m->dir());
    n_layer = m->config().n_layer;
  }
  if (std::find(so.variants.begin(), so.variants.end(), "full") == so.variants.end()) {
    so.variants.insert(so.variants.begin(), "full");
    so.added_full = true;
  }
  so.ns = parse_ns(ns_text, n_layer);
  const SweepStats st = run_glue_sweep(so);
  std::printf("%d configurations: %d already in %s, %d fine-tuned now in %.1f s\n", st.configs_total,
              st.configs_done_before, so.out.c_str(), st.configs_run, st.seconds);
  return 0;
}

}  // namespace

int cmd_sweep(const Argv& argv) {
  Options o("sweep",
            "every Painters variant x N x seed x task, one durable JSON line each; a rerun resumes where it stopped. "
            "--summary prints the scores table and the normalised summary of a results file",
            "--model DIR --tasks T1,T2 (--data T1=FILE,T2=FILE | --data-dir DIR) --out results.jsonl [options]\n"
            "       layerlab sweep --summary results.jsonl [--format text|csv|markdown]");
  ModelArgs ma;
  TaskArgs ta;
  std::string variants = "all", ns = "all", tasks_arg, data_arg, data_dir, out, format = "text";
  std::vector<std::string> files;
  int seeds = 1, k = 3;
  bool no_prefix_reuse = false, quiet = false, summary_mode = false;
  add_model_option(o, ma, /*required=*/false, "none; required unless --summary");
  add_device_options(o, ma);
  add_threads_option(o, ma.threads);
  o.text("--variants", variants, "LIST", "comma-separated variants (" + [] {
    std::string all;
    for (const auto& v : variant_names()) all += (all.empty() ? "," : ", ") + v;
    return all.substr(1);
  }() + "), or all; the baseline full is always added");
  o.text("--n", ns, "NS", "the N values: 1..11, 2,4,6, 1..3,8, or all (every N that leaves middle layers)");
  o.integer("--k", k, "times the parallel middle group runs (needs looped_parallel among --variants)", 1, 1000000);
  o.integer("--seeds", seeds, "shuffle runs seeds 0..S-1 (needs shuffle among --variants; the others have no seed)", 1,
            1000000);
  o.text("--tasks", tasks_arg, "LIST", "comma-separated tasks (as eval --task)", "none; required unless --summary");
  o.text("--data", data_arg, "PAIRS", "each task's data file: TASK=FILE,TASK=FILE",
         "none; required unless --data-dir or --summary");
  add_data_dir_option(o, data_dir);
  o.text("--out", out, "FILE", "the results file (JSON lines), appended to and resumed from",
         "none; required unless --summary");
  add_task_options(o, ta);
  o.flag("--no-prefix-reuse", no_prefix_reuse,
         "run every plan from the first layer, instead of running the leading steps plans share once (for measuring)");
  std::string samples_dir;
  o.text("--log-samples", samples_dir, "DIR",
         "one file of per-item records per configuration, DIR/<task>.<variant>.n<N>.seed<S>.jsonl (eval's "
         "--log-samples lines); DIR must exist",
         "not written");
  o.flag("--quiet", quiet, "no progress bar or notes on stderr");
  o.flag("--summary", summary_mode, "read a results file and print its tables instead of running");
  o.text("--format", format, "FORMAT", "--summary's scores table: text, csv or markdown");
  finetune::Options ft;
  ft.head_only = false;  // full fine-tuning unless --head-only, as layerlab finetune
  o.integer("--epochs", ft.epochs, "glue: tasks: training epochs of each configuration", 1, 1000);
  o.number("--lr", ft.lr, "glue: tasks: peak learning rate (AdamW)", 0, 1);
  o.integer("--batch", ft.batch, "glue: tasks: examples per step", 1, 1 << 16);
  o.integer("--max-length", ft.max_length, "glue: tasks: tokens per input, [CLS] and [SEP]s included", 3, 1 << 20);
  o.flag("--head-only", ft.head_only, "glue: tasks: freeze the encoder, train only the head");
  o.integer("--limit-train", ft.limit_train, "glue: tasks: the first N training records only", 0, INT64_MAX, "all");
  o.integer("--limit-dev", ft.limit_dev, "glue: tasks: the first N dev records only", 0, INT64_MAX, "all");
  o.seed("--seed", ft.seed, "glue: tasks: head initialisation and batch order (--seeds is shuffle's)");
  o.positional("results", files, "with --summary: the results file to read");
  if (!o.parse(argv)) return 0;
  if (summary_mode) {
    if (files.size() != 1) fail("--summary", "give one results file: layerlab sweep --summary results.jsonl");
    for (const std::string& g : o.given_names())
      if (g != "--summary" && g != "--format" && g != "results")
        fail(g, "does not apply to --summary (it only reads the results file)");
    return summary(files[0], format);
  }
  if (o.given("--format")) fail("--format", "applies only to --summary");
  if (!files.empty()) fail(files[0], "unexpected argument");
  for (const char* f : {"--model", "--tasks", "--out"})
    if (!o.given(f)) fail(f, "required option is missing");
  if (o.given("--data") && o.given("--data-dir"))
    fail("--data-dir", "give either --data TASK=FILE,... or --data-dir DIR, not both");
  const std::vector<std::string> task_list = split(tasks_arg, ',');
  if (task_list.empty()) fail("--tasks", "no task given");
  const bool glue_tasks = std::any_of(task_list.begin(), task_list.end(), [](const std::string& t) {
    return !glue_task_of(t).empty();
  });
  if (!glue_tasks)
    for (const std::string& f : kFinetuneFlags)
      if (o.given(f)) fail(f, "applies only to glue: tasks (fine-tuning sweeps)");
  if (!o.given("--data") && !o.given("--data-dir")) fail("--data", "required option is missing (or give --data-dir DIR)");

  SweepOptions so;
  so.variants = variants == "all" ? variant_names() : split(variants, ',');
  const auto& names = variant_names();
  for (const auto& v : so.variants)
    if (std::find(names.begin(), names.end(), v) == names.end())
      fail("--variants", "unknown variant '" + v + "' (one of: " + join(names) + ")");
  auto has_variant = [&](const char* v) { return std::find(so.variants.begin(), so.variants.end(), v) != so.variants.end(); };
  if (o.given("--k") && !has_variant("looped_parallel"))
    fail("--k", "only looped_parallel repeats its middle group K times, and it is not among --variants");
  if (o.given("--seeds") && !has_variant("shuffle"))
    fail("--seeds", "only shuffle is random, and it is not among --variants (the others have nothing a seed changes)");
  if (glue_tasks) {
    GlueSweepOptions g;
    g.variants = so.variants;
    g.seeds = seeds;
    g.k = k;
    g.out = out;
    g.finetune = ft;
    g.progress = !quiet;
    return glue_sweep(o, g, task_list, ns, data_dir, ma.model, ma.threads);
  }
  if (o.given("--data-dir"))
    for (const std::string& t : task_list) so.data[t] = canonical_path(data_file_in_dir(data_dir, t));
  for (const std::string& kv : split(data_arg, ',')) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == kv.size())
      fail("--data", "expected TASK=FILE pairs, got '" + kv + "'");
    so.data[kv.substr(0, eq)] = canonical_path(kv.substr(eq + 1));
  }
  std::vector<std::string> files_of_tasks;
  for (const std::string& t : task_list) {
    if (!so.data.count(t)) fail("--data", "no data file for task '" + t + "' (give " + t + "=FILE)");
    files_of_tasks.push_back(so.data[t]);
  }
  for (const auto& [t, _] : so.data)
    if (std::find(task_list.begin(), task_list.end(), t) == task_list.end())
      fail("--data", "task '" + t + "' has data but is not in --tasks");
  check_task_args(o, ta, task_list, files_of_tasks);
  check_output_path(out, "--out");  // before the model loads, not after the work
  if (o.given("--log-samples") && !is_directory(samples_dir))
    fail("--log-samples", "'" + samples_dir + "' is not a directory (create it first)");

  LoadedModel m = open_model(ma);
  const ModelConfig& cfg = m.model->config();
  so.out = out;
  so.model_dir = canonical_path(m.model->dir());
  // The baseline is what every figure and the normalised summary divide by: always run it.
  const bool add_full = !has_variant("full");
  if (add_full) so.variants.insert(so.variants.begin(), "full");
  so.ns = parse_ns(ns, cfg.n_layer);
  so.seeds = seeds;
  so.k = k;
  so.prefix_reuse = !no_prefix_reuse;
  so.progress = !quiet;
  TaskOptions topts = ta.t;
  topts.score.prefix_reuse = so.prefix_reuse;
  so.limit = topts.limit;
  auto tok = load_tokenizer(m.model->dir());
  check_task_args_for_model(o, ta, task_list, m.model->dir(), cfg, *tok);
  so.add_bos = ta.add_bos;
  so.log_samples_dir = samples_dir;  // the model's policy or the flags', as check_task_args_for_model found it
  const TextCodec codec = codec_for(*tok, ta.add_bos);
  std::map<std::string, std::unique_ptr<Task>> tasks;
  for (const std::string& t : task_list) {
    tasks[t] = make_task(t, so.data[t], codec, cfg, topts);
    check_task_has_items(t, so.data[t], *tasks[t], codec, ta);
  }
  // Notes only once everything is checked: an error is the first thing printed.
  if (add_full && !quiet) std::fprintf(stderr, "sweep: adding the baseline 'full' (every summary needs it)\n");
  Runner runner(*m.model, *m.backend);
  const SweepStats st = run_sweep(runner, tasks, so);
  std::printf("%d configurations: %d already in %s, %d run now (%d distinct plans) in %.1f s\n", st.configs_total,
              st.configs_done_before, so.out.c_str(), st.configs_run, st.plans_evaluated, st.seconds);
  return 0;
}

}  // namespace layerlab::cli
