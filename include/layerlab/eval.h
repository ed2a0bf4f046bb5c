#pragma once
// Evaluation harness: benchmark tasks scored under any plan, with lm-evaluation-harness
// conventions (docs/EVAL.md names the convention each task follows).
//
// Layers of the module:
//   TextCodec       what a task needs from a tokenizer (an adapter over layerlab::Tokenizer;
//                   tests may use any encoder, e.g. one token per byte);
//   score_sequences log-probabilities and greedy flags of chosen target tokens, for several
//                   plans at once, running the plans' shared leading steps once per batch;
//   Task            a benchmark read from its published JSON-lines file, evaluated under a
//                   list of plans, giving every metric with its standard error.
#include <cstdint>
#include <functional>
#include <memory>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerlab/plan.h"
#include "layerlab/runner.h"

namespace layerlab {

struct TextCodec {
  std::function<std::vector<int32_t>(const std::string&)> encode;  // no special tokens added
  std::function<std::string(const std::vector<int32_t>&)> decode;
  int32_t prefix_id = -1;  // lm-eval's prefix_token_id: put before an empty context (BOS, else EOS)
  int32_t bos_id = -1;     // added before every context when add_bos (Llama-style models)
  int32_t eos_id = -1;
  int32_t mask_id = -1, cls_id = -1, sep_id = -1;  // BERT masked-LM
  bool add_bos = false;
};

// ---------------------------------------------------------------- scoring sequences
// One sequence and the tokens to score in it. For causal models row r predicts ids[r + 1];
// for a masked LM row r predicts the original token at r. `rows` and `targets` pair up.
// Consecutive sequences with the same `context_group` >= 0 (e.g. the choices of one
// multiple-choice item) share their common leading tokens: with context sharing those run once
// into a KV cache and each sequence continues from it (the scores do not change).
struct ScoreSequence {
  std::vector<int32_t> ids;
  std::vector<int32_t> rows;
  std::vector<int32_t> targets;
  int64_t context_group = -1;
};
struct TokenScore {
  float logprob = 0;    // log p(target | ...)
  bool greedy = false;  // the target is the argmax of its row's logits
};
struct ScoreOptions {
  int64_t batch_tokens = 4096;  // padded tokens per forward batch
  bool prefix_reuse = true;     // run the plans' shared leading steps once per batch
  bool context_sharing = false;  // causal models: a context group's shared tokens run once (KV cache)
};
// out[plan][sequence][target]. Causal models batch sequences of different lengths by right
// padding (padding after a sequence cannot change its earlier positions); bidirectional ones
// only batch sequences of equal length.
using PlanScores = std::vector<std::vector<std::vector<TokenScore>>>;
PlanScores score_sequences(Runner& runner, const std::vector<Plan>& plans, const std::vector<ScoreSequence>& seqs,
                           const ScoreOptions& opts = {});
// Leading steps shared by every plan in the list.
size_t shared_prefix(const std::vector<Plan>& plans);

// lm-eval's HFLM._encode_pair: trailing spaces of the context move to the continuation, the
// whole string is encoded and the continuation's tokens are what follows the context's.
// An empty context becomes [prefix_id]; with add_bos, bos_id goes before every context.
struct EncodedPair {
  std::vector<int32_t> context, continuation;
};
EncodedPair encode_pair(const TextCodec& codec, const std::string& context, const std::string& continuation);
// A causal scoring sequence for (context, continuation): left-truncated to max_length
// tokens as lm-eval does ((context + continuation)[-(max_length + 1):][:-1]).
ScoreSequence continuation_sequence(const EncodedPair& pair, int max_length);

// ---------------------------------------------------------------- metrics
struct Metric {
  std::string name;
  double value = 0;
  double stderr_ = 0;  // NaN when not defined
};
struct TaskResult {
  std::vector<Metric> metrics;  // in display order; metrics[0] is the task's primary metric
  int64_t items = 0;            // items (documents, questions, masked tokens) scored
  int64_t tokens = 0;           // tokens scored (perplexity-type tasks), else 0
  const Metric& get(const std::string& name) const;  // Error if absent
};
double mean_of(const std::vector<double>& xs);
// lm-eval's mean_stderr: sample standard deviation (n - 1) / sqrt(n); NaN for n < 2.
double mean_stderr(const std::vector<double>& xs);
// lm-eval's perplexity aggregation exp(-mean(loglik)) over items; its standard error is
// bootstrapped as lm-eval does (here 1000 resamples from a fixed seed, so runs repeat).
double perplexity_of(const std::vector<double>& logliks);
double perplexity_bootstrap_stderr(const std::vector<double>& logliks, int resamples = 1000, uint64_t seed = 1234);

// ---------------------------------------------------------------- tasks
struct TaskOptions {
  int64_t limit = -1;           // first K items (after preprocessing), -1 = all
  std::string train_path;       // gsm8k: exemplars (default: train.jsonl beside the data file)
  int num_fewshot = 5;          // gsm8k
  int max_gen_tokens = 256;     // gsm8k (lm-eval's default max_gen_toks)
  int window = 0;               // perplexity / mlm: tokens per window (0: the model's context)
  int stride = 0;               // perplexity: 0 = window (no overlap)
  double mask_rate = 0.15;      // mlm
  uint64_t mask_seed = 1234;    // mlm
  ScoreOptions score;
};

// One scored item (a document for perplexity, a window for mlm): `values` are what the task's
// metrics aggregate (task-defined, e.g. {acc, acc_norm}; they round-trip through JSON, so a
// resumed run aggregates the same doubles), `sample` is lm-eval's --log_samples record
// (requests, log-likelihoods, prediction, gold; docs/EVAL.md "Per-item records").
struct ItemRecord {
  int64_t index = 0;  // position in the data after --limit (lm-eval's doc_id)
  std::vector<double> values;
  nlohmann::json sample;
};
// The --log-samples line of a record: its sample with "task", "doc_id" and "scores" (the
// values, NaN as null) added.
std::string item_record_line(const ItemRecord& r, const std::string& task);

struct EvalHooks {
  // More work done: `items` items, `tokens` tokens (the unit of work_tokens()); `resumed`: taken
  // from `resumed` below, not run (a progress bar leaves them out of its rate).
  std::function<void(int64_t items, int64_t tokens, bool resumed)> progress;
  // A chunk of items finished under plans[plan], in item order (then it is never rescored).
  std::function<void(size_t plan, const std::vector<ItemRecord>& chunk)> on_chunk;
  // Items of an earlier run of the same setup (one plan only): a chunk whose every item is
  // here is taken from here and not run; a partly recorded chunk is run again whole, so the
  // batches, and with them every score, are those of an uninterrupted run.
  std::map<int64_t, ItemRecord> resumed;
};

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  virtual int64_t size() const = 0;          // items after --limit
  virtual double chance() const = 0;         // score of random guessing on the primary metric; NaN if none
  virtual bool higher_is_better() const { return true; }
  // Tokens the model runs over the whole task (the progress unit: documents and items vary
  // in length); gsm8k counts prompt + --max-gen-tokens per item.
  virtual int64_t work_tokens() const = 0;
  // Scores every item under every plan (see EvalHooks).
  virtual std::vector<TaskResult> run(Runner& runner, const std::vector<Plan>& plans, const EvalHooks& hooks) = 0;
  // run() reporting only progress: `on_items(n)` gets n more items done (per plan set).
  std::vector<TaskResult> evaluate(Runner& runner, const std::vector<Plan>& plans,
                                   const std::function<void(int64_t)>& on_items = {});
};

// Task names: lambada_openai, hellaswag, arc_easy, arc_challenge, winogrande, gsm8k,
// perplexity, mlm. Reads and validates the data file (errors name file:line and field).
std::unique_ptr<Task> make_task(const std::string& name, const std::string& data_path, const TextCodec& codec,
                                const ModelConfig& cfg, const TaskOptions& opts);
const std::vector<std::string>& task_names();

}  // namespace layerlab

namespace layerlab {
class Tokenizer;
// The TextCodec of a model folder's tokenizer: prefix token = BOS, else EOS (lm-eval's
// prefix_token_id); [MASK]/[CLS]/[SEP] looked up in the vocabulary for BERT.
TextCodec codec_for(const Tokenizer& tok, bool add_bos = false);
}  // namespace layerlab
