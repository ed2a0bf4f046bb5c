// Context sharing (issue 14): the choices of an item run their shared context once into a KV
// cache and continue from it. The reference is one plain, unpadded Runner::forward per request
// (eval_fixtures.h; itself checked against Hugging Face), under plans that repeat layers (one
// cache slot per application), loop a parallel group, and with and without prefix reuse, on the
// golden tiny GPT-2 (learned positions) and Llama (RoPE, grouped keys and values); then real
// task files on the trained models: identical acc / acc_norm with and without sharing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "eval/scorer_internal.h"
#include "eval_fixtures.h"
#include "layerlab/error.h"
#include "layerlab/eval.h"
#include "layerlab/eval_text.h"
#include "layerlab/tokenizer.h"

using namespace layerlab;
using namespace layerlab::testing;

namespace {

struct Loaded {
  explicit Loaded(const std::string& dir) : model(load_model(dir)), backend(make_cpu_backend(*model)) {}
  std::unique_ptr<Model> model;
  std::unique_ptr<Backend> backend;
  Runner runner{*model, *backend};
};

// float32 throughout; the cached path differs from the reference only in summation order
// (other GEMM shapes), so sums of a few log-probabilities agree to ~1e-5.
constexpr double kTol = 1e-4;

struct Request {
  EncodedPair enc;
  ScoreSequence seq;
};

// Items of 4, 3, 5 and 2 choices with contexts of different lengths, one lone sequence, one
// winogrande-like item (different contexts, same continuation).
std::vector<Request> requests() {
  const std::vector<std::pair<std::string, std::vector<std::string>>> items = {
      {"Question: Which of these is a source of light?\nAnswer:", {" the Sun", " a rock", " a shadow", " a spoon"}},
      {"A man is sitting on a roof. He", {" starts pulling up roofing.", " is ripping level tiles off.", " holds a rope."}},
      {"Q: 2+2?\nA:", {" 4", " five", " 22", " four hundred and four", " fish"}},
      {"The quick brown fox jumps over the lazy dog and then", {" sleeps", " runs away quickly into the woods"}},
  };
  std::vector<Request> out;
  int64_t group = 0;
  for (const auto& [ctx, conts] : items) {
    for (const auto& c : conts) {
      Request r{encode_pair(byte_codec(), ctx, c), {}};
      r.seq = continuation_sequence(r.enc, 256);
      r.seq.context_group = group;
      out.push_back(std::move(r));
    }
    ++group;
  }
  Request lone{encode_pair(byte_codec(), "Lonely", " sequence"), {}};
  lone.seq = continuation_sequence(lone.enc, 256);
  out.push_back(lone);
  for (const char* option : {"Sarah was a much better surgeon than Maria so Sarah",
                             "Sarah was a much better surgeon than Maria so Maria"}) {
    Request r{encode_pair(byte_codec(), option, " always got the harder cases."), {}};
    r.seq = continuation_sequence(r.enc, 256);
    r.seq.context_group = 99;
    out.push_back(std::move(r));
  }
  return out;
}

void expect_matches_reference(Loaded& m, int n_layer) {
  const std::vector<Request> reqs = requests();
  std::vector<ScoreSequence> seqs;
  for (const auto& r : reqs) seqs.push_back(r.seq);
  const std::vector<Plan> plans = {full_plan(n_layer), make_variant("skip", n_layer, 1),
                                   make_variant("middle_repeat", n_layer, 1), make_variant("looped_parallel", n_layer, 1, 3),
                                   make_variant("reverse", n_layer, 2)};
  std::vector<std::vector<RefLoglik>> refs(plans.size());
  for (size_t p = 0; p < plans.size(); ++p)
    for (const auto& r : reqs) refs[p].push_back(reference_loglik(m.runner, plans[p], r.enc.context, r.enc.continuation));
  for (bool reuse : {true, false})
    for (int64_t budget : {int64_t(48), int64_t(4096)}) {  // 48: several batches with different shared lengths
      ScoreOptions o;
      o.prefix_reuse = reuse;
      o.batch_tokens = budget;
      o.context_sharing = true;
      const PlanScores s = score_sequences(m.runner, plans, seqs, o);
      for (size_t p = 0; p < plans.size(); ++p)
        for (size_t i = 0; i < reqs.size(); ++i) {
          SCOPED_TRACE("plan " + std::to_string(p) + " request " + std::to_string(i) + " reuse " +
                       std::to_string(reuse) + " budget " + std::to_string(budget));
          const RefLoglik& ref = refs[p][i];
          ASSERT_EQ(s[p][i].size(), reqs[i].enc.continuation.size());
          double sum = 0;
          bool greedy = true;
          for (const TokenScore& t : s[p][i]) sum += t.logprob, greedy = greedy && t.greedy;
          EXPECT_NEAR(sum, ref.logprob, kTol);
          EXPECT_EQ(greedy, ref.greedy);
        }
    }
}

}  // namespace

TEST(ContextSharing, GroupsShareTheirCommonTokensBeforeTheFirstScoredRow) {
  // By hand: ids 1 2 3 4 | 1 2 3 5 6 share 3 tokens; the first scored rows are 3 and 2, so 2.
  std::vector<ScoreSequence> seqs = {{{1, 2, 3, 4}, {3}, {7}, 5}, {{1, 2, 3, 5, 6}, {2, 3, 4}, {5, 6, 8}, 5},
                                     {{1, 2}, {1}, {3}, 6},       {{9, 9}, {1}, {3}, -1},
                                     {{9, 9}, {1}, {3}, -1},      {{4, 4, 4}, {2}, {1}, 7},
                                     {{5, 4, 4}, {2}, {1}, 7}};
  const auto groups = evalimpl::context_groups(seqs);
  ASSERT_EQ(groups.size(), 1u);  // group 6 is alone, -1 never groups, group 7 shares nothing
  EXPECT_EQ(groups[0].shared, 2);
  EXPECT_EQ(groups[0].members, (std::vector<size_t>{1, 0}));  // longest first
}

TEST(ContextSharing, MatchesPlainForwardGpt2) {
  Loaded m(shared_dir() + "/golden/gpt2-tiny");
  expect_matches_reference(m, 6);
}

TEST(ContextSharing, MatchesPlainForwardLlama) {
  Loaded m(shared_dir() + "/golden/llama-tiny");
  expect_matches_reference(m, 6);
}

// The real task files on the trained models: the first LAYERLAB_SHARING_ITEMS (default 10; the acceptance run sets 200)
// items of each multiple-choice task, acc / acc_norm identical with and without sharing (and
// with and without prefix reuse, under a sweep group's plans).
TEST(ContextSharing, RealTasksScoreTheSame) {
  const char* env = std::getenv("LAYERLAB_SHARING_ITEMS");
  const int64_t items = env ? std::atoll(env) : 10;
  for (const char* model : {"gpt2-code-24l", "llama-code-16l"}) {
    Loaded m(shared_dir() + "/models/" + model);
    const int L = m.model->config().n_layer;
    auto tok = load_tokenizer(m.model->dir());
    const TextCodec codec = codec_for(*tok);
    const std::vector<Plan> plans = {full_plan(L), make_variant("reverse", L, 3), make_variant("parallel", L, 3)};
    for (const char* task : {"arc_easy", "arc_challenge", "hellaswag", "winogrande"}) {
      const std::string file = std::string(task) == "hellaswag"    ? "hellaswag/validation.jsonl"
                               : std::string(task) == "winogrande" ? "winogrande/validation.jsonl"
                                                                   : std::string(task) + "/test.jsonl";
      std::vector<std::vector<TaskResult>> runs;
      for (const auto& [sharing, reuse] : {std::pair{false, true}, std::pair{true, true}, std::pair{true, false}}) {
          TaskOptions o;
          o.limit = items;
          o.score.context_sharing = sharing;
          o.score.prefix_reuse = reuse;
          auto t = make_task(task, shared_dir() + "/data/" + file, codec, m.model->config(), o);
          runs.push_back(t->evaluate(m.runner, plans));
        }
      // Every token's log-probability, sharing against the plain batches (the implementation
      // before sharing), on the same tokens.
      std::vector<ScoreSequence> seqs;
      auto recs = evaltext::read_jsonl(shared_dir() + "/data/" + file);
      recs.resize(std::min<size_t>(recs.size(), size_t(items)));
      for (const auto& rec : recs) {
        const evaltext::ChoiceItem it = std::string(task) == "hellaswag"    ? evaltext::hellaswag_item(rec.value, rec.where)
                                        : std::string(task) == "winogrande" ? evaltext::winogrande_item(rec.value, rec.where)
                                                                            : evaltext::arc_item(rec.value, rec.where);
        for (size_t c = 0; c < it.contexts.size(); ++c) {
          seqs.push_back(continuation_sequence(encode_pair(codec, it.contexts[c], it.continuations[c]), m.model->config().max_positions));
          seqs.back().context_group = int64_t(&rec - recs.data());
        }
      }
      ScoreOptions plain, shared;
      plain.context_sharing = false;
      shared.context_sharing = true;
      const PlanScores a = score_sequences(m.runner, plans, seqs, plain), b = score_sequences(m.runner, plans, seqs, shared);
      double worst = 0;
      for (size_t p = 0; p < plans.size(); ++p)
        for (size_t i = 0; i < seqs.size(); ++i)
          for (size_t j = 0; j < a[p][i].size(); ++j) {
            worst = std::max(worst, std::abs(double(a[p][i][j].logprob) - b[p][i][j].logprob));
            EXPECT_EQ(a[p][i][j].greedy, b[p][i][j].greedy);
          }
      EXPECT_LT(worst, kTol) << model << " " << task;
      std::printf("%s %s: %zu requests, largest log-probability difference %.3g\n", model, task, seqs.size(), worst);
      for (size_t r = 1; r < runs.size(); ++r)
        for (size_t p = 0; p < plans.size(); ++p)
          for (size_t k = 0; k < runs[0][p].metrics.size(); ++k) {
            SCOPED_TRACE(std::string(model) + " " + task + " run " + std::to_string(r) + " plan " + std::to_string(p));
            EXPECT_EQ(runs[r][p].metrics[k].name, runs[0][p].metrics[k].name);
            EXPECT_EQ(runs[r][p].metrics[k].value, runs[0][p].metrics[k].value);
          }
    }
  }
}
