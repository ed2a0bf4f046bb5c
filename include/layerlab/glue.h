#pragma once
// GLUE tasks as BERT is fine-tuned on them (docs/GLUE.md): the Hugging Face `glue` record
// layout, BERT's pair encoding ([CLS] a [SEP] b [SEP], token types 0/1, "longest first"
// truncation as the Hugging Face fast tokenizer does it) and GLUE's metrics.
#include <cstdint>
#include <string>
#include <vector>

namespace layerlab {

class Tokenizer;

namespace glue {

enum class Metric { Matthews, Accuracy, F1, Pearson, Spearman };
const char* metric_name(Metric m);  // "mcc", "acc", "f1", "pearson", "spearman"

struct TaskSpec {
  std::string name;          // "cola", "sst2", ...
  std::string field_a;       // first text field
  std::string field_b;       // second text field; empty for single-sentence tasks
  int num_labels = 2;        // 1: regression (STS-B)
  double label_min = 0, label_max = 1;  // regression label range
  std::vector<Metric> metrics;
  bool regression() const { return num_labels == 1; }
};

// The six tasks here: cola, sst2, mrpc, stsb, rte, qnli. Error naming `where` for another name.
const TaskSpec& task_spec(const std::string& name, const std::string& where = "--task");
std::vector<std::string> task_names();

struct Example {
  std::string a, b;   // b empty for single-sentence tasks
  int label = 0;      // class index (classification)
  double score = 0;   // regression target (STS-B)
  int64_t idx = 0;
};

// Reads DIR/<task>/<split>.jsonl. Every bad record (not an object, missing or mistyped field,
// label out of range) is an Error naming FILE:LINE and the field. `limit` > 0 keeps the first
// `limit` records.
std::vector<Example> read_split(const std::string& data_dir, const TaskSpec& task, const std::string& split,
                                int64_t limit = 0);
std::vector<Example> read_file(const std::string& path, const TaskSpec& task, int64_t limit = 0);

// One encoded input: ids [CLS] a [SEP] (b [SEP]), type ids 0 for [CLS] a [SEP], 1 for b [SEP].
struct Encoded {
  std::vector<int32_t> ids, types;
};

// Token counts kept of a pair of lengths (n_a, n_b) under a budget of `budget` tokens for the
// two texts, as the Hugging Face tokenizers' LongestFirst: nothing when it fits; else only the
// longer is cut when the shorter fits in half; else the shorter keeps budget / 2 and the
// longer the rest (for equal lengths the second is "the longer").
std::pair<int64_t, int64_t> longest_first(int64_t n_a, int64_t n_b, int64_t budget);

// Needs a WordPiece tokenizer with [CLS] and [SEP]; max_length counts the special tokens
// (at least 3 for pairs, 2 for single sentences).
class Encoder {
 public:
  Encoder(const Tokenizer& tok, int max_length);
  Encoded encode(const std::string& a) const;                        // [CLS] a [SEP]
  Encoded encode(const std::string& a, const std::string& b) const;  // [CLS] a [SEP] b [SEP]
  Encoded encode(const TaskSpec& task, const Example& e) const;       // as the task pairs them
  int max_length() const { return max_length_; }

 private:
  Encoded encode_impl(const std::string& a, const std::string* b) const;
  const Tokenizer& tok_;
  int max_length_;
  int32_t cls_ = -1, sep_ = -1;
};

// ---- metrics (double precision; inputs of equal, non-zero length) ----
double accuracy(const std::vector<int>& pred, const std::vector<int>& gold);
// Matthews correlation of binary labels; 0 when a row or column of the confusion matrix is
// empty (sklearn's convention).
double matthews(const std::vector<int>& pred, const std::vector<int>& gold);
// F1 of the positive class 1 (sklearn's default); 0 when there are no predicted or gold positives.
double f1_binary(const std::vector<int>& pred, const std::vector<int>& gold);
double pearson(const std::vector<double>& x, const std::vector<double>& y);
// Pearson correlation of the ranks, ties given their average rank (scipy.stats.spearmanr).
double spearman(const std::vector<double>& x, const std::vector<double>& y);
std::vector<double> average_ranks(const std::vector<double>& x);  // 1-based

struct MetricValue {
  std::string name;
  double value = 0;
};
// A task's metrics on predictions: class indices (classification) or scores (regression).
std::vector<MetricValue> evaluate(const TaskSpec& task, const std::vector<int>& pred_class,
                                  const std::vector<double>& pred_score, const std::vector<Example>& gold);
// A task's GLUE number: the mean of its metrics (MRPC: F1 and accuracy; STS-B: Pearson and
// Spearman), as the GLUE leaderboard averages them.
double task_score(const std::vector<MetricValue>& metrics);
// The GLUE score: the unweighted mean of the task scores.
double glue_score(const std::vector<double>& task_scores);

}  // namespace glue
}  // namespace layerlab
