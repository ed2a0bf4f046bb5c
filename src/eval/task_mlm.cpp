// Masked-token accuracy of a BERT-style model on text documents.
// Each document is tokenised, cut into windows of (context - 2) tokens, wrapped as
// [CLS] window [SEP]; in every window round(mask_rate * tokens) positions (at least one),
// drawn with a generator seeded from (seed, window index), are replaced by [MASK]. Unlike
// BERT's pre-training recipe (80/10/10) every chosen position becomes [MASK], the usual
// evaluation setting. Accuracy = the argmax at a masked position is the original token.
#include <climits>
#include <cmath>
#include <numeric>
#include <random>

#include "layerlab/documents.h"
#include "layerlab/error.h"
#include "task_common.h"

namespace layerlab::evalimpl {

namespace {

class MlmTask : public Task {
 public:
  MlmTask(const std::string& path, const TextCodec& codec, const ModelConfig& cfg, const TaskOptions& opts) : opts_(opts) {
    if (codec.mask_id < 0 || codec.cls_id < 0 || codec.sep_id < 0)
      fail("mlm", "the tokenizer has no [MASK]/[CLS]/[SEP] tokens");
    if (!(opts.mask_rate > 0 && opts.mask_rate <= 1)) fail_option("mask_rate", "must be in (0, 1]");
    // --limit counts documents, as in every task (it counted masked tokens before).
    const int limit = opts.limit > 0 && opts.limit < INT32_MAX ? static_cast<int>(opts.limit) : 0;
    std::vector<std::string> docs = read_text_documents(path, limit);
    const int body = context_length(cfg, opts.window) - 2;
    if (body < 1) fail_option("window", "too small for [CLS] x [SEP]");
    uint64_t window_index = 0;
    for (const std::string& doc : docs) {
      const std::vector<int32_t> toks = codec.encode(doc);
      for (size_t b = 0; b < toks.size(); b += body, ++window_index) {
        const size_t e = std::min(toks.size(), b + body);
        ScoreSequence w;
        w.ids.push_back(codec.cls_id);
        w.ids.insert(w.ids.end(), toks.begin() + b, toks.begin() + e);
        w.ids.push_back(codec.sep_id);
        const int n = static_cast<int>(e - b);
        const int k = std::max(1, static_cast<int>(std::lround(opts.mask_rate * n)));
        std::vector<int32_t> pos(n);
        std::iota(pos.begin(), pos.end(), 1);  // positions 1..n (not [CLS]/[SEP])
        std::mt19937_64 rng(opts.mask_seed * 0x9E3779B97F4A7C15ull + window_index);
        for (int i = 0; i < k; ++i) std::swap(pos[i], pos[i + rng() % (n - i)]);  // partial Fisher-Yates
        std::sort(pos.begin(), pos.begin() + k);
        for (int i = 0; i < k; ++i) {
          w.rows.push_back(pos[i]);
          w.targets.push_back(w.ids[pos[i]]);
          w.ids[pos[i]] = codec.mask_id;
        }
        masked_ += k;
        windows_.push_back(std::move(w));
      }
    }
    if (windows_.empty()) fail(path, "no text to mask");
  }
  std::string name() const override { return "mlm"; }
  int64_t size() const override { return masked_; }
  double chance() const override { return 0.0; }

  int64_t work_tokens() const override {
    int64_t n = 0;
    for (const auto& w : windows_) n += static_cast<int64_t>(w.ids.size());
    return n;
  }

  std::vector<TaskResult> run(Runner& runner, const std::vector<Plan>& plans, const EvalHooks& hooks) override {
    ChunkPlan cp;
    cp.bounds = fixed_chunks(windows_.size(), 8);  // a record is a window
    cp.tokens = [&](size_t w) { return static_cast<int64_t>(windows_[w].ids.size()); };
    cp.items = [&](size_t w) { return static_cast<int64_t>(windows_[w].targets.size()); };
    cp.n_values = [&](size_t w) { return 2 * windows_[w].targets.size(); };
    cp.score = [&](size_t b, size_t e) {
      const std::vector<ScoreSequence> chunk(windows_.begin() + b, windows_.begin() + e);
      const PlanScores s = score_sequences(runner, plans, chunk, opts_.score);
      std::vector<std::vector<ItemRecord>> out(plans.size());
      for (size_t p = 0; p < plans.size(); ++p)
        for (size_t w = b; w < e; ++w) {
          ItemRecord r;
          nlohmann::json lp = nlohmann::json::array(), g = nlohmann::json::array();
          for (const TokenScore& t : s[p][w - b]) {
            r.values.push_back(t.greedy ? 1.0 : 0.0);  // acc, nll per masked token
            r.values.push_back(-double(t.logprob));
            lp.push_back(t.logprob);
            g.push_back(t.greedy);
          }
          r.sample = {{"positions", windows_[w].rows}, {"targets", windows_[w].targets}, {"logprobs", lp}, {"greedy", g}};
          out[p].push_back(std::move(r));
        }
      return out;
    };
    const auto recs = run_chunks(cp, plans.size(), hooks);
    std::vector<TaskResult> out(plans.size());
    for (size_t p = 0; p < plans.size(); ++p) {
      std::vector<double> acc, nll;
      for (const ItemRecord& r : recs[p])
        for (size_t k = 0; k < r.values.size(); k += 2) {
          acc.push_back(r.values[k]);
          nll.push_back(r.values[k + 1]);
        }
      out[p].metrics = {mean_metric("acc", acc), mean_metric("nll", nll)};
      out[p].items = static_cast<int64_t>(acc.size());
    }
    return out;
  }

 private:
  TaskOptions opts_;
  std::vector<ScoreSequence> windows_;
  int64_t masked_ = 0;
};

}  // namespace

std::unique_ptr<Task> make_mlm_task(const std::string& path, const TextCodec& codec, const ModelConfig& cfg,
                                    const TaskOptions& opts) {
  return std::make_unique<MlmTask>(path, codec, cfg, opts);
}

}  // namespace layerlab::evalimpl
