// Each task's scores against values recomputed here independently: per-choice
// log-likelihoods from plain Runner::forward calls (reference_loglik), argmax, the
// length normalisation and the means written out by hand in the test.
#include <gtest/gtest.h>

#include <cmath>

#include "eval_fixtures.h"
#include "layerlab/error.h"
#include "layerlab/eval.h"
#include "layerlab/eval_text.h"
#include "layerlab/fs.h"

using namespace layerlab;
using namespace layerlab::testing;

namespace {

struct Loaded {
  explicit Loaded(const std::string& name) : model(load_model(shared_dir() + "/golden/" + name)) {}
  std::unique_ptr<Model> model;
  std::unique_ptr<Backend> backend = make_cpu_backend(*model);
  Runner runner{*model, *backend};
};

int argmax(const std::vector<double>& v) { return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin()); }

// Expected acc and acc_norm of a multiple-choice fixture under `plan`.
std::pair<double, double> expected_choice_scores(Runner& runner, const Plan& plan, const std::vector<evaltext::ChoiceItem>& items,
                                                 int* items_where_norm_differs) {
  double acc = 0, acc_norm = 0;
  for (const auto& it : items) {
    std::vector<double> ll, norm;
    for (size_t c = 0; c < it.contexts.size(); ++c) {
      // Byte codec: the context has no trailing space in these fixtures, so the split is plain.
      const RefLoglik r = reference_loglik(runner, plan, bytes_of(it.contexts[c]), bytes_of(it.continuations[c]), false);
      ll.push_back(r.logprob);
      norm.push_back(r.logprob / double(it.norm_strings[c].size()));  // ASCII: bytes = characters
    }
    acc += argmax(ll) == it.gold;
    acc_norm += argmax(norm) == it.gold;
    *items_where_norm_differs += argmax(ll) != argmax(norm);
  }
  return {acc / items.size(), acc_norm / items.size()};
}

}  // namespace

TEST(EvalTasks, MultipleChoiceAccAndAccNorm) {
  Loaded t("gpt2-tiny");
  const Plan plan = make_variant("reverse", 6, 1);
  int differs = 0;
  for (const std::string name : {"hellaswag", "arc_easy", "winogrande"}) {
    std::vector<evaltext::ChoiceItem> items;
    for (const auto& r : evaltext::read_jsonl(eval_data(name + ".jsonl")))
      items.push_back(name == "hellaswag" ? evaltext::hellaswag_item(r.value, r.where)
                      : name == "arc_easy" ? evaltext::arc_item(r.value, r.where)
                                           : evaltext::winogrande_item(r.value, r.where));
    const auto [acc, acc_norm] = expected_choice_scores(t.runner, plan, items, &differs);
    TaskOptions o;
    auto task = make_task(name, eval_data(name + ".jsonl"), byte_codec(), t.model->config(), o);
    EXPECT_EQ(task->size(), static_cast<int64_t>(items.size()));
    const TaskResult r = task->evaluate(t.runner, {plan})[0];
    EXPECT_DOUBLE_EQ(r.get("acc").value, acc) << name;
    EXPECT_EQ(r.items, static_cast<int64_t>(items.size()));
    // stderr of a 0/1 mean: sqrt(p (1 - p) n / (n - 1)) / sqrt(n)
    const double n = double(items.size());
    EXPECT_NEAR(r.get("acc").stderr_, std::sqrt(acc * (1 - acc) * n / (n - 1)) / std::sqrt(n), 1e-12);
    if (name != "winogrande") {
      EXPECT_EQ(r.metrics[0].name, "acc_norm");
      EXPECT_DOUBLE_EQ(r.get("acc_norm").value, acc_norm) << name;
    } else {
      EXPECT_EQ(r.metrics.size(), 1u);  // lm-eval's winogrande reports acc only
    }
    EXPECT_NEAR(task->chance(), name == "winogrande" ? 0.5 : name == "hellaswag" ? 0.25 : (0.25 + 1.0 / 3 + 0.25) / 3, 1e-12);
  }
  std::printf("items where acc and acc_norm pick different choices: %d\n", differs);
}

TEST(EvalTasks, LambadaAccuracyAndPerplexity) {
  Loaded t("gpt2-tiny");
  const Plan plan = full_plan(6);
  std::vector<double> ll;
  double acc = 0;
  const auto recs = evaltext::read_jsonl(eval_data("lambada_openai.jsonl"));
  for (const auto& r : recs) {
    const auto item = evaltext::lambada_item(r.value["text"]);
    const RefLoglik ref = reference_loglik(t.runner, plan, bytes_of(item.context), bytes_of(item.target));
    ll.push_back(ref.logprob);
    acc += ref.greedy;
  }
  TaskOptions o;
  o.limit = 3;  // the first three items only
  auto task = make_task("lambada_openai", eval_data("lambada_openai.jsonl"), byte_codec(), t.model->config(), o);
  const TaskResult r = task->evaluate(t.runner, {plan})[0];
  ASSERT_EQ(r.items, 3);
  ll.resize(3);
  EXPECT_NEAR(r.get("perplexity").value, std::exp(-(ll[0] + ll[1] + ll[2]) / 3), 1e-3 * r.get("perplexity").value);
  EXPECT_GE(r.get("acc").value, 0.0);
  EXPECT_EQ(r.get("acc").value, 0.0);  // a random model does not predict whole words (checked per item below)
  EXPECT_EQ(acc, 0.0);
}

TEST(EvalTasks, SlidingWindowPerplexity) {
  Loaded t("gpt2-tiny");
  const Plan plan = make_variant("skip", 6, 2);
  const std::string text = read_text_file(eval_data("text.txt"));
  std::vector<int32_t> s = {50256};
  for (int32_t b : bytes_of(text)) s.push_back(b);
  const int W = 64, S = 40;
  // Independent recomputation: token t (stream index >= 1) is scored with context
  // s[b .. t-1] where b is the start of the first window (starts 0, S, 2S, ...) whose input
  // s[b, b + W) ends at or after t - 1 and that comes after the previous window's tokens.
  double nll = 0;
  int count = 0, prev_end = 0;
  for (int b = 0; prev_end < int(s.size()) - 1; b += S) {
    const int end = std::min<int>(b + W, int(s.size()) - 1);  // predicts s[b+1 .. end]
    ForwardRequest req;
    req.ids.assign(s.begin() + b, s.begin() + end + 1);
    req.logprobs_next = true;
    const ForwardResult r = t.runner.forward(plan, req);
    for (int tok = std::max(prev_end + 1, b + 1); tok <= end; ++tok) nll -= r.logprobs_next[tok - 1 - b], ++count;
    prev_end = end;
  }
  TaskOptions o;
  o.window = W;
  o.stride = S;
  auto task = make_task("perplexity", eval_data("text.txt"), byte_codec(), t.model->config(), o);
  const TaskResult r = task->evaluate(t.runner, {plan})[0];
  EXPECT_EQ(r.tokens, static_cast<int64_t>(text.size()));
  EXPECT_EQ(count, static_cast<int>(text.size()));
  EXPECT_NEAR(r.get("nll_per_token").value, nll / count, 1e-4);
  // Perplexity is ~1e5 for this random model: compare relatively (float32 sums over the
  // windows are accumulated in a thread-count-dependent order).
  EXPECT_NEAR(r.get("perplexity").value / std::exp(nll / count), 1.0, 1e-6);
  EXPECT_NEAR(r.get("bits_per_byte").value, nll / text.size() / std::log(2.0), 1e-4);
}

TEST(EvalTasks, MaskedTokenAccuracyOnBert) {
  Loaded t("bert-tiny");
  TextCodec c = byte_codec();
  c.cls_id = 101, c.sep_id = 102, c.mask_id = 103;
  const std::string text = "def add(a, b):";
  TaskOptions o;
  o.mask_rate = 1.0;  // every position masked: the positions are known without the sampler
  auto task = make_task("mlm", eval_data("text.txt"), c, t.model->config(), o);
  (void)task;
  // The fixture's whole text in one window, every token masked; expected accuracy by argmax.
  const std::string doc = read_text_file(eval_data("text.txt"));
  ForwardRequest req;
  req.ids = {101};
  for (size_t i = 0; i < doc.size(); ++i) req.ids.push_back(103);
  req.ids.push_back(102);
  req.all_logits = true;
  const ForwardResult fr = t.runner.forward(full_plan(6), req);
  const int vocab = t.model->config().vocab;
  double hits = 0;
  for (size_t i = 0; i < doc.size(); ++i) {
    const float* row = fr.logits.data() + (i + 1) * vocab;
    hits += (std::max_element(row, row + vocab) - row) == static_cast<unsigned char>(doc[i]);
  }
  const TaskResult r = task->evaluate(t.runner, {full_plan(6)})[0];
  EXPECT_EQ(r.items, static_cast<int64_t>(doc.size()));
  EXPECT_DOUBLE_EQ(r.get("acc").value, hits / doc.size());
  // With the default 15% the count per window is round(0.15 n).
  TaskOptions o15;
  auto t15 = make_task("mlm", eval_data("text.txt"), c, t.model->config(), o15);
  EXPECT_EQ(t15->size(), std::lround(0.15 * doc.size()));
  (void)text;
}

TEST(EvalTasks, WrongModelKindAndMissingFilesAreErrors) {
  Loaded bert("bert-tiny");
  TaskOptions o;
  EXPECT_THROW(make_task("hellaswag", eval_data("hellaswag.jsonl"), byte_codec(), bert.model->config(), o), Error);
  Loaded gpt("gpt2-tiny");
  EXPECT_THROW(make_task("mlm", eval_data("text.txt"), byte_codec(), gpt.model->config(), o), Error);
  EXPECT_THROW(make_task("arc_easy", eval_data("missing.jsonl"), byte_codec(), gpt.model->config(), o), Error);
  EXPECT_THROW(make_task("nope", eval_data("text.txt"), byte_codec(), gpt.model->config(), o), Error);
}

TEST(EvalTasks, Gsm8kRunsGreedyGenerationAndScoresExactMatch) {
  Loaded t("gpt2-tiny");
  TaskOptions o;
  o.limit = 2;
  o.num_fewshot = 1;
  o.max_gen_tokens = 8;
  auto task = make_task("gsm8k", shared_dir() + "/data/gsm8k/test.jsonl", byte_codec(), t.model->config(), o);
  const TaskResult r = task->evaluate(t.runner, {full_plan(6)})[0];
  EXPECT_EQ(r.items, 2);
  EXPECT_EQ(r.get("exact_match").value, 0.0);  // eight random bytes cannot contain "#### <answer>"
}
