// Token-level perplexity of text documents with a sliding window.
// The token stream of a document is [prefix] + tokens (lm-eval's loglikelihood_rolling puts
// its prefix token first, so every real token is scored). Windows hold `window` input tokens
// and start `stride` tokens apart; each token is scored once, in the first window that
// predicts it after the previous window's scored tokens, so with stride < window every token
// after the first window has at least window - stride tokens of context (the Hugging Face
// "perplexity of fixed-length models" recipe). stride = window is lm-eval's rolling windows.
#include <cmath>

#include "layerlab/documents.h"
#include "layerlab/error.h"
#include "task_common.h"

namespace layerlab::evalimpl {

namespace {

class PerplexityTask : public Task {
 public:
  PerplexityTask(const std::string& path, const TextCodec& codec, const ModelConfig& cfg, const TaskOptions& opts)
      : opts_(opts) {
    std::vector<std::string> docs = read_text_documents(path);
    if (opts.limit > 0 && static_cast<size_t>(opts.limit) < docs.size()) docs.resize(static_cast<size_t>(opts.limit));
    const int window = context_length(cfg, opts.window);
    const int stride = opts.stride > 0 ? opts.stride : window;
    if (stride > window) fail_option("stride", "must not exceed the window (" + std::to_string(window) + " tokens)");
    const int32_t prefix = codec.add_bos && codec.bos_id >= 0 ? codec.bos_id : codec.prefix_id;
    if (prefix < 0) fail("perplexity", "the tokenizer has no BOS/EOS token to start a document with");
    for (size_t d = 0; d < docs.size(); ++d) {
      std::vector<int32_t> s = {prefix};
      const std::vector<int32_t> toks = codec.encode(docs[d]);
      s.insert(s.end(), toks.begin(), toks.end());
      const int32_t n = static_cast<int32_t>(toks.size());  // stream indices 1..n are scored
      doc_bytes_.push_back(static_cast<double>(docs[d].size()));
      doc_windows_.push_back(0);
      for (int32_t b = 0, next = 1; next <= n; b += stride) {
        const int32_t e = std::min<int32_t>(b + window, n);  // input s[b, e) predicts s[b + 1 .. e]
        ScoreSequence w;
        w.ids.assign(s.begin() + b, s.begin() + e);
        for (int32_t t = next; t <= e; ++t) {
          w.rows.push_back(t - 1 - b);
          w.targets.push_back(s[t]);
        }
        next = e + 1;
        windows_.push_back(std::move(w));
        ++doc_windows_.back();
      }
    }
  }
  std::string name() const override { return "perplexity"; }
  int64_t size() const override { return static_cast<int64_t>(doc_bytes_.size()); }
  double chance() const override { return kNaN; }
  bool higher_is_better() const override { return false; }

  int64_t work_tokens() const override {
    int64_t n = 0;
    for (const auto& w : windows_) n += static_cast<int64_t>(w.ids.size());
    return n;
  }

  std::vector<TaskResult> run(Runner& runner, const std::vector<Plan>& plans, const EvalHooks& hooks) override {
    std::vector<size_t> first_window = {0};  // of each document
    for (size_t n : doc_windows_) first_window.push_back(first_window.back() + n);
    ChunkPlan cp;
    for (size_t d = 0; d <= doc_bytes_.size(); ++d) cp.bounds.push_back(d);  // one document a chunk
    cp.tokens = [&](size_t d) {
      int64_t n = 0;
      for (size_t w = first_window[d]; w < first_window[d + 1]; ++w) n += static_cast<int64_t>(windows_[w].ids.size());
      return n;
    };
    cp.n_values = [&](size_t d) {
      size_t n = 0;
      for (size_t w = first_window[d]; w < first_window[d + 1]; ++w) n += windows_[w].targets.size();
      return n;
    };
    cp.score = [&](size_t d, size_t) {
      const std::vector<ScoreSequence> chunk(windows_.begin() + first_window[d], windows_.begin() + first_window[d + 1]);
      const PlanScores s = score_sequences(runner, plans, chunk, opts_.score);
      std::vector<std::vector<ItemRecord>> out(plans.size());
      for (size_t p = 0; p < plans.size(); ++p) {
        ItemRecord r;
        nlohmann::json ids = nlohmann::json::array();
        double sum = 0;
        for (size_t w = 0; w < chunk.size(); ++w)
          for (size_t t = 0; t < s[p][w].size(); ++t) {
            r.values.push_back(-double(s[p][w][t].logprob));  // token NLLs, in stream order
            sum += s[p][w][t].logprob;
            ids.push_back(chunk[w].targets[t]);
          }
        r.sample = {{"tokens", ids}, {"token_nll", r.values}, {"loglikelihood", sum},
                    {"windows", chunk.size()}, {"bytes", doc_bytes_[d]}};
        out[p].push_back(std::move(r));
      }
      return out;
    };
    const auto recs = run_chunks(cp, plans.size(), hooks);
    double bytes = 0;
    for (double b : doc_bytes_) bytes += b;
    std::vector<TaskResult> out(plans.size());
    for (size_t p = 0; p < plans.size(); ++p) {
      std::vector<double> nll;  // per scored token
      for (const ItemRecord& r : recs[p]) nll.insert(nll.end(), r.values.begin(), r.values.end());
      const double mean = mean_of(nll), se = mean_stderr(nll);
      const double ppl = std::exp(mean);
      double total = 0;
      for (double x : nll) total += x;
      // Delta method on the mean token NLL (treats tokens as independent, so it understates
      // the uncertainty of correlated text; see docs/EVAL.md).
      out[p].metrics = {{"perplexity", ppl, ppl * se},
                        {"nll_per_token", mean, se},
                        {"bits_per_byte", total / bytes / std::log(2.0), kNaN}};
      out[p].items = size();
      out[p].tokens = static_cast<int64_t>(nll.size());
    }
    return out;
  }

 private:
  TaskOptions opts_;
  std::vector<ScoreSequence> windows_;
  std::vector<size_t> doc_windows_;
  std::vector<double> doc_bytes_;
};

}  // namespace

std::unique_ptr<Task> make_perplexity_task(const std::string& path, const TextCodec& codec, const ModelConfig& cfg,
                                           const TaskOptions& opts) {
  return std::make_unique<PerplexityTask>(path, codec, cfg, opts);
}

}  // namespace layerlab::evalimpl
