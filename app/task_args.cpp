#include "task_args.h"

#include <algorithm>
#include <climits>

#include "layerlab/documents.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"

namespace layerlab::cli {

namespace {

std::string join(const std::vector<std::string>& xs, const std::string& sep) {
  std::string out;
  for (const auto& x : xs) out += (out.empty() ? "" : sep) + x;
  return out;
}

bool is_choice(const std::string& t) {
  return t == "lambada_openai" || t == "hellaswag" || t == "arc_easy" || t == "arc_challenge" || t == "winogrande";
}

// The options only some tasks read, which, and why not the others.
struct Scoped {
  const char* flag;
  bool (*applies)(const std::string& task);
  const char* who;
  const char* why;
};
const Scoped kScoped[] = {
    {"--train", [](const std::string& t) { return t == "gsm8k"; }, "gsm8k", ""},
    {"--num-fewshot", [](const std::string& t) { return t == "gsm8k"; }, "gsm8k", ""},
    {"--max-gen-tokens", [](const std::string& t) { return t == "gsm8k"; }, "gsm8k", ""},
    {"--stride", [](const std::string& t) { return t == "perplexity"; }, "perplexity", ""},
    {"--mask-rate", [](const std::string& t) { return t == "mlm"; }, "mlm", ""},
    {"--mask-seed", [](const std::string& t) { return t == "mlm"; }, "mlm", ""},
    {"--context-sharing",
     [](const std::string& t) { return t == "hellaswag" || t == "arc_easy" || t == "arc_challenge" || t == "winogrande"; },
     "hellaswag, arc_easy, arc_challenge and winogrande", "only their choices share a context"},
    {"--add-bos", [](const std::string& t) { return is_choice(t) || t == "gsm8k"; },
     "lambada_openai, hellaswag, arc_easy, arc_challenge, winogrande and gsm8k",
     "perplexity starts every document with BOS (else EOS) anyway, mlm with [CLS]"},
    {"--no-add-bos", [](const std::string& t) { return is_choice(t) || t == "gsm8k"; },
     "lambada_openai, hellaswag, arc_easy, arc_challenge, winogrande and gsm8k",
     "perplexity starts every document with BOS (else EOS) anyway, mlm with [CLS]"},
};

int model_context(const ModelConfig& cfg) { return cfg.max_positions > 0 ? cfg.max_positions : 2048; }

}  // namespace

void add_task_options(Options& o, TaskArgs& a) {
  TaskOptions& t = a.t;
  o.integer("--limit", t.limit, "score only the first K items of the file: records, or documents for perplexity and mlm (similarity's --limit "
            "counts the same)", 1, INT64_MAX, "all");
  o.integer("--window", t.window,
            "tokens per window (perplexity, mlm) and the longest context a request may have (the others); at most "
            "the model's context",
            2, INT32_MAX, "the model's context");
  o.integer("--stride", t.stride, "perplexity: tokens between window starts; less than --window overlaps windows", 1,
            INT32_MAX, "the window: no overlap");
  o.text("--train", t.train_path, "FILE", "gsm8k: the exemplars for the few-shot prompt",
         "train.jsonl beside the data file");
  o.integer("--num-fewshot", t.num_fewshot, "gsm8k: exemplars in each prompt", 0, 1000);
  o.integer("--max-gen-tokens", t.max_gen_tokens, "gsm8k: tokens generated per answer", 1, INT32_MAX);
  o.number("--mask-rate", t.mask_rate, "mlm: share of each window's tokens masked (at least one)", 0, 1);
  o.seed("--mask-seed", t.mask_seed, "mlm: seed of the masked positions");
  o.integer("--batch-tokens", t.score.batch_tokens, "tokens scored per batch (memory / speed)", 1, INT64_MAX);
  o.flag("--context-sharing", a.context_sharing,
         "run the context that a multiple-choice item's choices share once into a KV cache and score each choice "
         "against it (same scores; off by default: measured slower on the CPU and the GPU so far, docs/EVAL.md)");
  add_bos_options(o, a.bos);  // lambada, hellaswag, arc, winogrande, gsm8k (kScoped)
}

const std::vector<std::pair<std::string, std::string>>& usual_data_files() {
  static const std::vector<std::pair<std::string, std::string>> files = {
      {"lambada_openai", "lambada_openai/test.jsonl"}, {"hellaswag", "hellaswag/validation.jsonl"},
      {"arc_easy", "arc_easy/test.jsonl"},             {"arc_challenge", "arc_challenge/test.jsonl"},
      {"winogrande", "winogrande/validation.jsonl"},   {"gsm8k", "gsm8k/test.jsonl"},
      {"perplexity", "python-code/val.jsonl"},
  };
  return files;
}

void add_data_dir_option(Options& o, std::string& dir) {
  std::string names;
  for (const auto& [task, path] : usual_data_files()) names += (names.empty() ? "" : ", ") + task + ": " + path;
  o.text("--data-dir", dir, "DIR", "find each task's data file under DIR by its usual name (" + names + ")",
         "none (give --data)");
}

std::string data_file_in_dir(const std::string& dir, const std::string& task) {
  const auto& names = task_names();
  if (std::find(names.begin(), names.end(), task) == names.end())
    fail("--task", "unknown task '" + task + "' (one of: " + join(names, ", ") + ")");
  if (!is_directory(dir)) fail("--data-dir", "'" + dir + "' is not a directory");
  std::string known;
  for (const auto& [t, path] : usual_data_files()) known += (known.empty() ? "" : ", ") + t;
  for (const auto& [t, path] : usual_data_files()) {
    if (t != task) continue;
    const std::string file = dir + (dir.back() == '/' ? "" : "/") + path;
    if (!file_exists(file))
      fail("--data-dir", "no data file for task '" + task + "': " + file + " not found (tasks with a usual file: " +
                             known + ")");
    return file;
  }
  fail("--data-dir", "task '" + task + "' has no usual data file (tasks with one: " + known + "); give --data");
}

void check_task_args(const Options& o, TaskArgs& a, const std::vector<std::string>& tasks,
                     const std::vector<std::string>& data_files) {
  const auto& names = task_names();
  for (const auto& t : tasks)
    if (std::find(names.begin(), names.end(), t) == names.end())
      fail("--task", "unknown task '" + t + "' (one of: " + join(names, ", ") + ")");
  for (const auto& f : data_files)
    if (!file_exists(f)) fail(f, "data file not found");
  for (const Scoped& s : kScoped) {
    if (!o.given(s.flag)) continue;
    if (std::none_of(tasks.begin(), tasks.end(), s.applies))
      fail(s.flag, "changes nothing for " + join(tasks, ", ") + ": it applies only to " + s.who +
                       (*s.why ? std::string(" (") + s.why + ")" : ""));
  }
  a.t.score.context_sharing = a.context_sharing;
  check_bos_args(o);
}

void check_task_args_for_model(const Options& o, TaskArgs& a, const std::vector<std::string>& tasks,
                               const std::string& model_path, const ModelConfig& cfg, const Tokenizer& tok) {
  const int context = model_context(cfg);
  if (o.given("--window") && a.t.window > context)
    fail("--window", std::to_string(a.t.window) + " exceeds the model's context of " + std::to_string(context) +
                         " tokens");
  if (o.given("--stride") && a.t.stride > (a.t.window > 0 ? a.t.window : context))
    fail("--stride", "must not exceed the window (" + std::to_string(a.t.window > 0 ? a.t.window : context) +
                         " tokens)");
  a.add_bos = resolve_add_bos(o, a.bos, model_path, tok);
  (void)tasks;
}

void check_task_has_items(const std::string& task_name, const std::string& path, const Task& task,
                          const TextCodec& codec, const TaskArgs& a) {
  if (task.size() == 0) fail(path, "no items for task " + task_name + " (the file is empty)");
  if (task_name == "perplexity") {
    const auto docs = read_text_documents(path, a.t.limit > 0 && a.t.limit < INT_MAX ? int(a.t.limit) : 0);
    if (std::none_of(docs.begin(), docs.end(), [&](const std::string& d) { return !codec.encode(d).empty(); }))
      fail(path, "no text to score: " + (read_text_file(path).find_first_not_of(" \t\r\n") == std::string::npos
                                              ? std::string("the file is empty")
                                              : "its " + std::to_string(docs.size()) + " document(s) are empty"));
  }
}

}  // namespace layerlab::cli
