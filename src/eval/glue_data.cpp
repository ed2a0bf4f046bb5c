// GLUE tasks: the task table, reading the Hugging Face `glue` JSON lines with errors naming
// FILE:LINE and the field, and BERT's sentence / sentence-pair encoding.
#include <algorithm>
#include <cmath>

#include "layerlab/error.h"
#include "layerlab/eval_text.h"
#include "layerlab/glue.h"
#include "layerlab/tokenizer.h"
#include "util/json_read.h"

namespace layerlab::glue {

const char* metric_name(Metric m) {
  switch (m) {
    case Metric::Matthews: return "mcc";
    case Metric::Accuracy: return "acc";
    case Metric::F1: return "f1";
    case Metric::Pearson: return "pearson";
    case Metric::Spearman: return "spearman";
  }
  return "?";
}

namespace {

// Labels as the Hugging Face `glue` dataset defines them.
const std::vector<TaskSpec>& tasks() {
  static const std::vector<TaskSpec> t = {
      {"cola", "sentence", "", 2, 0, 1, {Metric::Matthews}},            // 0 unacceptable, 1 acceptable
      {"sst2", "sentence", "", 2, 0, 1, {Metric::Accuracy}},            // 0 negative, 1 positive
      {"mrpc", "sentence1", "sentence2", 2, 0, 1, {Metric::F1, Metric::Accuracy}},  // 1 equivalent
      {"stsb", "sentence1", "sentence2", 1, 0, 5, {Metric::Pearson, Metric::Spearman}},  // similarity 0..5
      {"rte", "sentence1", "sentence2", 2, 0, 1, {Metric::Accuracy}},   // 0 entailment, 1 not
      {"qnli", "question", "sentence", 2, 0, 1, {Metric::Accuracy}},    // 0 entailment, 1 not
  };
  return t;
}

Example parse_record(const nlohmann::json& rec, const std::string& where, const TaskSpec& task, int64_t line) {
  if (!rec.is_object()) fail(where, "expected a JSON object");
  Example e;
  e.a = evaltext::str_field(rec, task.field_a, where);
  if (!task.field_b.empty()) e.b = evaltext::str_field(rec, task.field_b, where);
  const auto it = rec.find("label");
  if (it == rec.end()) fail(where, "missing field 'label'");
  if (task.regression()) {
    if (!it->is_number() || it->is_boolean()) fail(where, "field 'label' must be a number, got " + json_excerpt(*it));
    e.score = it->get<double>();
    if (!std::isfinite(e.score) || e.score < task.label_min || e.score > task.label_max)
      fail(where, "field 'label' = " + json_excerpt(*it) + " is outside [" + std::to_string(int(task.label_min)) + ", " +
                      std::to_string(int(task.label_max)) + "]");
  } else {
    e.label = int(json_int(*it, 0, task.num_labels - 1, where + ": field 'label'"));
  }
  const auto idx = rec.find("idx");
  e.idx = idx == rec.end() ? line : json_int(*idx, 0, INT64_MAX, where + ": field 'idx'");
  return e;
}

}  // namespace

const TaskSpec& task_spec(const std::string& name, const std::string& where) {
  for (const TaskSpec& t : tasks())
    if (t.name == name) return t;
  std::string all;
  for (const TaskSpec& t : tasks()) all += (all.empty() ? "" : ", ") + t.name;
  fail(where, "unknown GLUE task '" + clip(name) + "' (known: " + all + ")");
}

std::vector<std::string> task_names() {
  std::vector<std::string> out;
  for (const TaskSpec& t : tasks()) out.push_back(t.name);
  return out;
}

std::vector<Example> read_file(const std::string& path, const TaskSpec& task, int64_t limit) {
  std::vector<Example> out;
  int64_t line = 0;
  for (const auto& r : evaltext::read_jsonl(path)) {
    out.push_back(parse_record(r.value, r.where, task, line++));
    if (limit > 0 && int64_t(out.size()) >= limit) break;
  }
  return out;
}

std::vector<Example> read_split(const std::string& data_dir, const TaskSpec& task, const std::string& split,
                                int64_t limit) {
  return read_file(data_dir + "/" + task.name + "/" + split + ".jsonl", task, limit);
}

std::pair<int64_t, int64_t> longest_first(int64_t n_a, int64_t n_b, int64_t budget) {
  if (n_a + n_b <= budget) return {n_a, n_b};
  const bool swap = n_a > n_b;
  int64_t short_n = swap ? n_b : n_a, long_n;
  long_n = short_n > budget ? short_n : std::max(short_n, budget - short_n);
  if (short_n + long_n > budget) {
    short_n = budget / 2;
    long_n = short_n + budget % 2;
  }
  return swap ? std::make_pair(long_n, short_n) : std::make_pair(short_n, long_n);
}

Encoder::Encoder(const Tokenizer& tok, int max_length) : tok_(tok), max_length_(max_length) {
  if (tok.family() != "wordpiece") fail("tokenizer", "GLUE encoding needs a BERT WordPiece tokenizer, got " + tok.family());
  for (int32_t i = 0; i < tok.vocab_size(); ++i) {
    const std::string p = tok.piece(i);
    if (p == "[CLS]") cls_ = i;
    if (p == "[SEP]") sep_ = i;
  }
  if (cls_ < 0 || sep_ < 0) fail("tokenizer", "the vocabulary has no [CLS] or [SEP] token");
  if (max_length < 3) fail_option("max_length", "must be at least 3 ([CLS] a [SEP] b [SEP] needs 3 special tokens)");
}

Encoded Encoder::encode(const std::string& a) const { return encode_impl(a, nullptr); }
Encoded Encoder::encode(const std::string& a, const std::string& b) const { return encode_impl(a, &b); }
Encoded Encoder::encode(const TaskSpec& task, const Example& e) const {
  return task.field_b.empty() ? encode(e.a) : encode(e.a, e.b);
}

Encoded Encoder::encode_impl(const std::string& a, const std::string* b) const {
  const bool pair = b != nullptr;
  std::vector<int32_t> ta = tok_.encode(a), tb = pair ? tok_.encode(*b) : std::vector<int32_t>{};
  const int64_t budget = max_length_ - (pair ? 3 : 2);
  const auto [na, nb] = longest_first(int64_t(ta.size()), int64_t(tb.size()), budget);
  ta.resize(size_t(na));
  tb.resize(size_t(nb));
  Encoded e;
  e.ids.push_back(cls_);
  e.ids.insert(e.ids.end(), ta.begin(), ta.end());
  e.ids.push_back(sep_);
  e.types.assign(e.ids.size(), 0);
  if (pair) {
    e.ids.insert(e.ids.end(), tb.begin(), tb.end());
    e.ids.push_back(sep_);
    e.types.resize(e.ids.size(), 1);
  }
  return e;
}

}  // namespace layerlab::glue
