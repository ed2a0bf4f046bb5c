// Log-likelihood tasks: lambada_openai (one continuation per item) and the multiple-choice
// tasks hellaswag, arc_easy, arc_challenge, winogrande (one request per choice).
#include <algorithm>

#include "layerlab/error.h"
#include "layerlab/eval_text.h"
#include "task_common.h"

namespace layerlab::evalimpl {

namespace {

// Sum of log-probabilities and "every token greedy" of one request.
struct Loglik {
  double logprob = 0;
  bool greedy = true;
};
Loglik total(const std::vector<TokenScore>& ts) {
  Loglik l;
  for (const TokenScore& t : ts) {
    l.logprob += t.logprob;
    l.greedy = l.greedy && t.greedy;
  }
  return l;
}

template <class T>
void apply_limit(std::vector<T>& items, int64_t limit) {
  if (limit > 0 && static_cast<size_t>(limit) < items.size()) items.resize(static_cast<size_t>(limit));
}

nlohmann::json token_logprobs(const std::vector<TokenScore>& ts) {
  nlohmann::json lp = nlohmann::json::array(), g = nlohmann::json::array();
  for (const TokenScore& t : ts) {
    lp.push_back(t.logprob);
    g.push_back(t.greedy);
  }
  return {{"logprobs", lp}, {"greedy", g}};
}

int64_t tokens_of(const ScoreSequence& s) { return static_cast<int64_t>(s.ids.size()); }

class LambadaTask : public Task {
 public:
  LambadaTask(const std::string& path, const TextCodec& codec, const ModelConfig& cfg, const TaskOptions& opts)
      : opts_(opts) {
    auto recs = evaltext::read_jsonl(path);
    apply_limit(recs, opts.limit);
    const int max_len = context_length(cfg, opts.window);
    for (const auto& r : recs) {
      const auto item = evaltext::lambada_item(evaltext::str_field(r.value, "text", r.where));
      try {
        seqs_.push_back(continuation_sequence(encode_pair(codec, item.context, item.target), max_len));
      } catch (const Error& e) {
        fail(r.where, e.what());
      }
      texts_.emplace_back(item.context, item.target);
    }
  }
  std::string name() const override { return "lambada_openai"; }
  int64_t size() const override { return static_cast<int64_t>(seqs_.size()); }
  double chance() const override { return 0.0; }
  int64_t work_tokens() const override {
    int64_t n = 0;
    for (const auto& s : seqs_) n += tokens_of(s);
    return n;
  }

  std::vector<TaskResult> run(Runner& runner, const std::vector<Plan>& plans, const EvalHooks& hooks) override {
    ChunkPlan cp;
    cp.bounds = fixed_chunks(seqs_.size(), kItemsPerChunk);
    cp.tokens = [&](size_t i) { return tokens_of(seqs_[i]); };
    cp.n_values = [](size_t) { return size_t(2); };
    cp.score = [&](size_t b, size_t e) {
      const std::vector<ScoreSequence> chunk(seqs_.begin() + b, seqs_.begin() + e);
      const PlanScores s = score_sequences(runner, plans, chunk, opts_.score);
      std::vector<std::vector<ItemRecord>> out(plans.size());
      for (size_t p = 0; p < plans.size(); ++p)
        for (size_t i = b; i < e; ++i) {
          const Loglik l = total(s[p][i - b]);
          ItemRecord r;
          r.values = {l.greedy ? 1.0 : 0.0, l.logprob};  // acc, loglik
          r.sample = {{"request", {{"context", texts_[i].first}, {"continuation", texts_[i].second}}},
                      {"continuation_ids", seqs_[i].targets},
                      {"tokens", token_logprobs(s[p][i - b])},
                      {"loglikelihood", l.logprob},
                      {"is_greedy", l.greedy},
                      {"acc", l.greedy ? 1 : 0}};
          out[p].push_back(std::move(r));
        }
      return out;
    };
    const auto recs = run_chunks(cp, plans.size(), hooks);
    std::vector<TaskResult> out(plans.size());
    for (size_t p = 0; p < plans.size(); ++p) {
      std::vector<double> acc, ll;
      for (const ItemRecord& r : recs[p]) {
        acc.push_back(r.values[0]);
        ll.push_back(r.values[1]);
      }
      out[p].metrics = {mean_metric("acc", acc), {"perplexity", perplexity_of(ll), perplexity_bootstrap_stderr(ll)}};
      out[p].items = static_cast<int64_t>(acc.size());
    }
    return out;
  }

 private:
  TaskOptions opts_;
  std::vector<ScoreSequence> seqs_;
  std::vector<std::pair<std::string, std::string>> texts_;  // context, continuation (for the samples)
};

class ChoiceTask : public Task {
 public:
  ChoiceTask(const std::string& name, const std::string& path, const TextCodec& codec, const ModelConfig& cfg,
             const TaskOptions& opts)
      : name_(name), opts_(opts) {
    auto recs = evaltext::read_jsonl(path);
    apply_limit(recs, opts.limit);
    const int max_len = context_length(cfg, opts.window);
    double chance_sum = 0;
    for (const auto& r : recs) {
      evaltext::ChoiceItem item = name == "hellaswag"    ? evaltext::hellaswag_item(r.value, r.where)
                                  : name == "winogrande" ? evaltext::winogrande_item(r.value, r.where)
                                                         : evaltext::arc_item(r.value, r.where);
      Item it;
      it.gold = item.gold;
      for (size_t c = 0; c < item.continuations.size(); ++c) {
        try {
          it.seqs.push_back(continuation_sequence(encode_pair(codec, item.contexts[c], item.continuations[c]), max_len));
        } catch (const Error& e) {
          fail(r.where, e.what());
        }
        it.seqs.back().context_group = static_cast<int64_t>(items_.size());  // the choices share their context
        it.norm_len.push_back(static_cast<double>(evaltext::code_points(item.norm_strings[c])));
        it.texts.emplace_back(item.contexts[c], item.continuations[c]);
      }
      chance_sum += 1.0 / it.seqs.size();
      items_.push_back(std::move(it));
    }
    chance_ = chance_sum / items_.size();
  }
  std::string name() const override { return name_; }
  int64_t size() const override { return static_cast<int64_t>(items_.size()); }
  double chance() const override { return chance_; }

  int64_t work_tokens() const override {
    int64_t n = 0;
    for (const Item& it : items_)
      for (const auto& s : it.seqs) n += tokens_of(s);
    return n;
  }

  std::vector<TaskResult> run(Runner& runner, const std::vector<Plan>& plans, const EvalHooks& hooks) override {
    const bool has_norm = name_ != "winogrande";  // lm-eval's winogrande reports acc only
    ChunkPlan cp;
    cp.bounds = fixed_chunks(items_.size(), kItemsPerChunk);
    cp.tokens = [&](size_t i) {
      int64_t n = 0;
      for (const auto& s : items_[i].seqs) n += tokens_of(s);
      return n;
    };
    cp.n_values = [](size_t) { return size_t(2); };
    cp.score = [&](size_t b, size_t e) {
      std::vector<ScoreSequence> chunk;
      for (size_t i = b; i < e; ++i) chunk.insert(chunk.end(), items_[i].seqs.begin(), items_[i].seqs.end());
      const PlanScores s = score_sequences(runner, plans, chunk, opts_.score);
      std::vector<std::vector<ItemRecord>> out(plans.size());
      for (size_t p = 0; p < plans.size(); ++p) {
        size_t k = 0;
        for (size_t i = b; i < e; ++i) {
          const Item& it = items_[i];
          std::vector<double> lls;
          nlohmann::json requests = nlohmann::json::array(), greedy = nlohmann::json::array();
          for (size_t c = 0; c < it.seqs.size(); ++c) {
            const Loglik l = total(s[p][k++]);
            lls.push_back(l.logprob);
            greedy.push_back(l.greedy);
            requests.push_back({{"context", it.texts[c].first}, {"continuation", it.texts[c].second}});
          }
          const int pred = argmax(lls);
          std::vector<double> normed = lls;
          for (size_t c = 0; c < lls.size(); ++c) normed[c] /= it.norm_len[c];  // lm-eval: lls / len(choice)
          const int pred_norm = argmax(normed);
          ItemRecord r;
          r.values = {pred == it.gold ? 1.0 : 0.0, pred_norm == it.gold ? 1.0 : 0.0};  // acc, acc_norm
          r.sample = {{"requests", requests}, {"loglikelihoods", lls}, {"is_greedy", greedy},
                      {"gold", it.gold},      {"pred", pred},          {"acc", pred == it.gold ? 1 : 0}};
          if (has_norm) {
            r.sample["choice_lengths"] = it.norm_len;
            r.sample["pred_norm"] = pred_norm;
            r.sample["acc_norm"] = pred_norm == it.gold ? 1 : 0;
          }
          out[p].push_back(std::move(r));
        }
      }
      return out;
    };
    const auto recs = run_chunks(cp, plans.size(), hooks);
    std::vector<TaskResult> out(plans.size());
    for (size_t p = 0; p < plans.size(); ++p) {
      std::vector<double> acc, acc_norm;
      for (const ItemRecord& r : recs[p]) {
        acc.push_back(r.values[0]);
        acc_norm.push_back(r.values[1]);
      }
      if (has_norm)
        out[p].metrics = {mean_metric("acc_norm", acc_norm), mean_metric("acc", acc)};
      else
        out[p].metrics = {mean_metric("acc", acc)};
      out[p].items = static_cast<int64_t>(acc.size());
    }
    return out;
  }

 private:
  struct Item {
    std::vector<ScoreSequence> seqs;
    std::vector<double> norm_len;
    std::vector<std::pair<std::string, std::string>> texts;  // per choice: context, continuation
    int gold = 0;
  };
  // np.argmax: the first maximum.
  static int argmax(const std::vector<double>& v) {
    return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());
  }
  std::string name_;
  TaskOptions opts_;
  std::vector<Item> items_;
  double chance_ = 0;
};

}  // namespace

std::unique_ptr<Task> make_lambada_task(const std::string& path, const TextCodec& codec, const ModelConfig& cfg,
                                        const TaskOptions& opts) {
  return std::make_unique<LambadaTask>(path, codec, cfg, opts);
}

std::unique_ptr<Task> make_choice_task(const std::string& name, const std::string& path, const TextCodec& codec,
                                       const ModelConfig& cfg, const TaskOptions& opts) {
  return std::make_unique<ChoiceTask>(name, path, codec, cfg, opts);
}

}  // namespace layerlab::evalimpl
