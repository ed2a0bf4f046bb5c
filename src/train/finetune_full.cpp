// Full fine-tuning: backward through the BERT encoder under the plan (encoder_model.cpp) and the
// head, on the CPU in float32. The encoder starts from the checkpoint; the pooler from the
// checkpoint when it has one, else (BertForMaskedLM folders) from the seeded initialisation,
// and trains in both cases, as BertForSequenceClassification fine-tuning does.
#include <algorithm>

#include "layerlab/error.h"
#include "layerlab/runner.h"
#include "model/checkpoint.h"
#include "train/encoder_model.h"
#include "train/finetune_engine.h"

namespace layerlab::finetune {

namespace {

EncoderShape shape_of(const ModelConfig& c) {
  return {c.n_layer, c.d_model, c.n_head, c.d_ff, c.vocab, c.max_positions, std::max(c.type_vocab, 1), c.norm_eps};
}

class FullEngine : public Engine {
 public:
  FullEngine(Runner& runner, const Options& o, const glue::TaskSpec& task, const std::vector<glue::Encoded>& train,
             const std::vector<glue::Encoded>& dev)
      : cfg_(runner.model().config()), enc_(shape_of(cfg_), o.plan), head_(HeadShape{cfg_.d_model, task.num_labels, true}),
        train_(train), dev_(dev) {
    if (cfg_.type_vocab < 1) fail(o.model_dir, "a BERT model without token type embeddings");
    layout_ = enc_.layout();
    enc_n_ = train::parameter_count(layout_);
    for (train::TensorSpec t : head_.layout()) {
      t.offset += enc_n_;
      layout_.push_back(t);
    }
    params_.assign(size_t(train::parameter_count(layout_)), 0.0f);
    grads_.assign(params_.size(), 0.0f);
    const Checkpoint ck(o.model_dir);
    for (const auto& t : enc_.layout()) ck.read_into(t.name, t.shape, params_.data() + t.offset);
    init_normal(head_.params(), head_.layout(), initializer_range(o.model_dir), o.seed);
    pretrained_pooler_ = ck.has("bert.pooler.dense.weight");
    if (pretrained_pooler_) {
      const int64_t d = cfg_.d_model;
      ck.read_into("bert.pooler.dense.weight", {d, d}, head_.params().data());
      ck.read_into("bert.pooler.dense.bias", {d}, head_.params().data() + d * d);
    }
    std::copy(head_.params().begin(), head_.params().end(), params_.begin() + enc_n_);
  }
  std::vector<float>& params() override { return params_; }
  std::vector<float>& grads() override { return grads_; }
  const std::vector<train::TensorSpec>& layout() const override { return layout_; }
  std::string layout_name() const override {
    return "full " + std::to_string(cfg_.n_layer) + "x" + std::to_string(cfg_.d_model) + " labels=" +
           std::to_string(head_.shape().num_labels);
  }
  std::string pooler_note() const override {
    return pretrained_pooler_ ? "the checkpoint's, trained" : "not in the checkpoint: initialised and trained";
  }

  double batch_loss(const std::vector<size_t>& idx, const std::vector<int>& labels, const std::vector<double>& targets) override {
    const int B = int(idx.size()), d = cfg_.d_model;
    std::fill(grads_.begin(), grads_.end(), 0.0f);
    std::vector<float> x(size_t(B) * d), dx(x.size());
    std::vector<int> l(B);
    std::vector<double> t(B);
    for (int b = 0; b < B; ++b) {
      const glue::Encoded& e = train_[idx[b]];
      const std::vector<float>& h = enc_.forward(params_.data(), e.ids, e.types, b);
      std::copy_n(h.data(), d, x.data() + size_t(b) * d);  // [CLS]
      l[b] = labels[idx[b]], t[b] = targets[idx[b]];
    }
    sync_head();
    const double loss = head_.loss(x.data(), B, l.data(), t.data(), true, dx.data());
    std::copy(head_.grads().begin(), head_.grads().end(), grads_.begin() + enc_n_);
    for (int b = 0; b < B; ++b) {
      std::vector<float> dout(train_[idx[b]].ids.size() * size_t(d), 0.0f);
      std::copy_n(dx.data() + size_t(b) * d, d, dout.data());
      enc_.backward(params_.data(), grads_.data(), dout, b);
    }
    return loss;
  }

  std::vector<float> dev_logits() override {
    const int d = cfg_.d_model;
    std::vector<float> x(dev_.size() * size_t(d));
    for (size_t i = 0; i < dev_.size(); ++i) {
      const std::vector<float>& h = enc_.forward(params_.data(), dev_[i].ids, dev_[i].types, 0);
      std::copy_n(h.data(), d, x.data() + i * d);
    }
    sync_head();
    return head_.logits(x.data(), int(dev_.size()));
  }

  std::vector<OutTensor> head_tensors() const override {
    std::vector<OutTensor> out;
    for (size_t i = enc_.layout().size(); i < layout_.size(); ++i) {
      const auto& t = layout_[i];
      out.push_back({t.name, t.shape, std::vector<float>(params_.begin() + t.offset, params_.begin() + t.offset + t.numel)});
    }
    return out;
  }

 private:
  void sync_head() { std::copy(params_.begin() + enc_n_, params_.end(), head_.params().begin()); }

  const ModelConfig& cfg_;
  EncoderModel<float> enc_;
  Head<float> head_;
  const std::vector<glue::Encoded>& train_;
  const std::vector<glue::Encoded>& dev_;
  std::vector<train::TensorSpec> layout_;
  int64_t enc_n_ = 0;
  std::vector<float> params_, grads_;
  bool pretrained_pooler_ = false;
};

}  // namespace

std::unique_ptr<Engine> make_full_engine(Runner& runner, const Options& o, const glue::TaskSpec& task,
                                         const std::vector<glue::Encoded>& train, const std::vector<glue::Encoded>& dev) {
  return std::make_unique<FullEngine>(runner, o, task, train, dev);
}

}  // namespace layerlab::finetune
