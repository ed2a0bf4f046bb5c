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
    }
  }
  std::string name() const override { return "lambada_openai"; }
  int64_t size() const override { return static_cast<int64_t>(seqs_.size()); }
  double chance() const override { return 0.0; }

  std::vector<TaskResult> evaluate(Runner& runner, const std::vector<Plan>& plans,
                                   const std::function<void(int64_t)>& on_items) override {
    std::vector<std::vector<double>> acc(plans.size()), ll(plans.size());
    for_chunks(seqs_.size(), kItemsPerChunk, [&](size_t b, size_t e) {
      const std::vector<ScoreSequence> chunk(seqs_.begin() + b, seqs_.begin() + e);
      const PlanScores s = score_sequences(runner, plans, chunk, opts_.score);
      for (size_t p = 0; p < plans.size(); ++p)
        for (const auto& seq : s[p]) {
          const Loglik l = total(seq);
          acc[p].push_back(l.greedy ? 1.0 : 0.0);
          ll[p].push_back(l.logprob);
        }
    }, on_items);
    std::vector<TaskResult> out(plans.size());
    for (size_t p = 0; p < plans.size(); ++p) {
      out[p].metrics = {mean_metric("acc", acc[p]),
                        {"perplexity", perplexity_of(ll[p]), perplexity_bootstrap_stderr(ll[p])}};
      out[p].items = static_cast<int64_t>(acc[p].size());
    }
    return out;
  }

 private:
  TaskOptions opts_;
  std::vector<ScoreSequence> seqs_;
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
      }
      chance_sum += 1.0 / it.seqs.size();
      items_.push_back(std::move(it));
    }
    chance_ = chance_sum / items_.size();
  }
  std::string name() const override { return name_; }
  int64_t size() const override { return static_cast<int64_t>(items_.size()); }
  double chance() const override { return chance_; }

  std::vector<TaskResult> evaluate(Runner& runner, const std::vector<Plan>& plans,
                                   const std::function<void(int64_t)>& on_items) override {
    std::vector<std::vector<double>> acc(plans.size()), acc_norm(plans.size());
    for_chunks(items_.size(), kItemsPerChunk, [&](size_t b, size_t e) {
      std::vector<ScoreSequence> chunk;
      for (size_t i = b; i < e; ++i) chunk.insert(chunk.end(), items_[i].seqs.begin(), items_[i].seqs.end());
      const PlanScores s = score_sequences(runner, plans, chunk, opts_.score);
      for (size_t p = 0; p < plans.size(); ++p) {
        size_t k = 0;
        for (size_t i = b; i < e; ++i) {
          const Item& it = items_[i];
          std::vector<double> lls;
          for (size_t c = 0; c < it.seqs.size(); ++c) lls.push_back(total(s[p][k++]).logprob);
          acc[p].push_back(argmax(lls) == it.gold ? 1.0 : 0.0);
          for (size_t c = 0; c < lls.size(); ++c) lls[c] /= it.norm_len[c];  // lm-eval: lls / len(choice)
          acc_norm[p].push_back(argmax(lls) == it.gold ? 1.0 : 0.0);
        }
      }
    }, on_items);
    std::vector<TaskResult> out(plans.size());
    const bool has_norm = name_ != "winogrande";  // lm-eval's winogrande reports acc only
    for (size_t p = 0; p < plans.size(); ++p) {
      if (has_norm)
        out[p].metrics = {mean_metric("acc_norm", acc_norm[p]), mean_metric("acc", acc[p])};
      else
        out[p].metrics = {mean_metric("acc", acc[p])};
      out[p].items = static_cast<int64_t>(acc[p].size());
    }
    return out;
  }

 private:
  struct Item {
    std::vector<ScoreSequence> seqs;
    std::vector<double> norm_len;
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
