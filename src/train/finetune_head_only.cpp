// Head-only fine-tuning: the encoder frozen, the [CLS] features under the plan computed once by
// the inference backend (through the checkpoint's pooler when it has one) and cached; only the
// head (pooler too when the checkpoint has none, as BertForMaskedLM folders) trains.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/progress.h"
#include "layerlab/runner.h"
#include "model/checkpoint.h"
#include "train/finetune_engine.h"
#include "util/json_read.h"

namespace layerlab::finetune {

double initializer_range(const std::string& model_dir) {
  const nlohmann::json cfg = read_json_file(model_dir + "/config.json");
  const auto it = cfg.find("initializer_range");
  if (it == cfg.end()) return 0.02;
  if (!it->is_number() || !(it->get<double>() > 0) || it->get<double>() > 10)
    fail(model_dir + "/config.json", "field 'initializer_range' must be a number in (0, 10]");
  return it->get<double>();
}

std::vector<float> cls_features(Runner& runner, const Plan& plan, const std::vector<glue::Encoded>& inputs,
                                const std::vector<float>& pooler_w, const std::vector<float>& pooler_b,
                                const std::function<void(int64_t)>& on_done) {
  const int d = runner.model().config().d_model;
  std::vector<size_t> order(inputs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return inputs[a].ids.size() > inputs[b].ids.size(); });
  std::vector<float> out(inputs.size() * size_t(d));
  const int64_t batch_tokens = 8192;
  for (size_t b0 = 0; b0 < order.size();) {
    const size_t T = inputs[order[b0]].ids.size();
    size_t b1 = b0 + 1;  // equal lengths only: no padding, no attention mask needed
    while (b1 < order.size() && inputs[order[b1]].ids.size() == T && int64_t(b1 - b0 + 1) * int64_t(T) <= batch_tokens) ++b1;
    std::vector<int32_t> ids, types;
    for (size_t i = b0; i < b1; ++i) {
      ids.insert(ids.end(), inputs[order[i]].ids.begin(), inputs[order[i]].ids.end());
      types.insert(types.end(), inputs[order[i]].types.begin(), inputs[order[i]].types.end());
    }
    auto x = runner.embed_typed(ids, types, int(b1 - b0));
    runner.run(plan, *x);
    const std::vector<float> h = x->to_host();
    for (size_t i = b0; i < b1; ++i)
      std::copy_n(h.data() + (i - b0) * T * d, d, out.data() + order[i] * d);  // row 0: [CLS]
    if (on_done) on_done(int64_t(b1 - b0));
    b0 = b1;
  }
  if (!pooler_w.empty()) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < int64_t(inputs.size()); ++n) {
      std::vector<float> p(d);
      const float* x = out.data() + n * d;
      for (int o = 0; o < d; ++o) {
        double s = pooler_b[o];
        for (int k = 0; k < d; ++k) s += double(pooler_w[size_t(o) * d + k]) * x[k];
        p[o] = float(std::tanh(s));
      }
      std::copy(p.begin(), p.end(), out.data() + n * d);
    }
  }
  return out;
}

namespace {

class HeadOnlyEngine : public Engine {
 public:
  HeadOnlyEngine(Runner& runner, const Options& o, const glue::TaskSpec& task, const std::vector<glue::Encoded>& train,
                 const std::vector<glue::Encoded>& dev)
      : d_(runner.model().config().d_model),
        head_(HeadShape{d_, task.num_labels, !Checkpoint(o.model_dir).has("bert.pooler.dense.weight")}) {
    if (!head_.shape().train_pooler) {  // a pretrained pooler: frozen into the features
      const Checkpoint ck(o.model_dir);
      pooler_w_ = ck.read("bert.pooler.dense.weight", {d_, d_});
      pooler_b_ = ck.read("bert.pooler.dense.bias", {d_});
    }
    init_normal(head_.params(), head_.layout(), initializer_range(o.model_dir), o.seed);
    Progress bar("features under " + plan_to_text(o.plan), int64_t(train.size() + dev.size()), "inputs");
    train_x_ = cls_features(runner, o.plan, train, pooler_w_, pooler_b_, [&](int64_t k) { bar.add(k); });
    dev_x_ = cls_features(runner, o.plan, dev, pooler_w_, pooler_b_, [&](int64_t k) { bar.add(k); });
    bar.finish();
  }
  std::vector<float>& params() override { return head_.params(); }
  std::vector<float>& grads() override { return head_.grads(); }
  const std::vector<train::TensorSpec>& layout() const override { return head_.layout(); }
  std::string layout_name() const override {
    return "head-only d=" + std::to_string(d_) + " labels=" + std::to_string(head_.shape().num_labels) +
           (head_.shape().train_pooler ? " pooler=trained" : " pooler=frozen");
  }
  std::string pooler_note() const override {
    return head_.shape().train_pooler ? "not in the checkpoint: initialised and trained" : "the checkpoint's, frozen";
  }
  double batch_loss(const std::vector<size_t>& idx, const std::vector<int>& labels, const std::vector<double>& targets) override {
    std::vector<float> x(idx.size() * size_t(d_));
    std::vector<int> l(idx.size());
    std::vector<double> t(idx.size());
    for (size_t i = 0; i < idx.size(); ++i) {
      std::copy_n(train_x_.data() + idx[i] * d_, d_, x.data() + i * d_);
      l[i] = labels[idx[i]];
      t[i] = targets[idx[i]];
    }
    return head_.loss(x.data(), int(idx.size()), l.data(), t.data(), true);
  }
  std::vector<float> dev_logits() override { return head_.logits(dev_x_.data(), int(dev_x_.size() / d_)); }
  std::vector<OutTensor> head_tensors() const override {
    std::vector<OutTensor> out;
    if (!pooler_w_.empty()) {
      out.push_back({"bert.pooler.dense.weight", {d_, d_}, pooler_w_});
      out.push_back({"bert.pooler.dense.bias", {d_}, pooler_b_});
    }
    auto& p = const_cast<Head<float>&>(head_).params();
    for (const auto& t : head_.layout()) out.push_back({t.name, t.shape, std::vector<float>(p.begin() + t.offset, p.begin() + t.offset + t.numel)});
    return out;
  }

 private:
  int d_;
  Head<float> head_;
  std::vector<float> pooler_w_, pooler_b_, train_x_, dev_x_;
};

}  // namespace

std::unique_ptr<Engine> make_head_only_engine(Runner& runner, const Options& o, const glue::TaskSpec& task,
                                              const std::vector<glue::Encoded>& train, const std::vector<glue::Encoded>& dev) {
  return std::make_unique<HeadOnlyEngine>(runner, o, task, train, dev);
}

}  // namespace layerlab::finetune
