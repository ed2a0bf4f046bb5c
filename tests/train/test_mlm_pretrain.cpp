// `train --objective mlm`: the exported BertForMaskedLM folder is read by load_model, and the
// inference path's masked-LM loss on it equals the training head's on the same weights; the
// loss falls on a small text; flags of the causal trainer are refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "cli_run.h"
#include "golden.h"
#include "layerlab/backend.h"
#include "layerlab/model.h"
#include "layerlab/pretrain.h"
#include "layerlab/runner.h"
#include "layerlab/safetensors.h"
#include "layerlab/tokenizer.h"
#include "train/encoder_model.h"
#include "train/mlm_head.h"
#include "util/json_read.h"

using namespace layerlab;
using namespace layerlab::finetune;
using namespace layerlab::testing;

TEST(MlmPretrain, ExportedFolderLoadsAndScoresAsTrained) {
  const std::string out = ::testing::TempDir() + "/layerlab_mlm_" + std::to_string(::getpid());
  std::filesystem::remove_all(out);
  MlmOptions o;
  o.n_layer = 2;
  o.d_model = 16;
  o.n_head = 2;
  o.context = 16;
  o.data = std::string(LAYERLAB_EVAL_DATA_DIR) + "/text.txt";
  o.tokenizer_dir = shared_dir() + "/golden/bert-tiny";
  o.out_dir = out;
  o.steps = 40;
  o.batch = 4;
  o.lr = 5e-2;  // high: 40 Adam steps must move 30522 output biases and the tied embeddings
  o.mask_rate = 0.3;
  const auto r = pretrain_mlm(o);
  const auto& losses = r["losses"];
  ASSERT_EQ(losses.size(), 40u);
  double first = 0, last = 0;
  for (int i = 0; i < 5; ++i) first += losses[size_t(i)].get<double>() / 5, last += losses[size_t(35 + i)].get<double>() / 5;
  EXPECT_LT(last, first - 1.0) << "first steps " << first << ", last steps " << last;

  auto model = load_model(out);
  const ModelConfig& c = model->config();
  ASSERT_EQ(c.family, "bert");
  ASSERT_TRUE(c.has_mlm_head);
  EXPECT_EQ(c.n_layer, 2);
  EXPECT_EQ(c.d_model, 16);
  EXPECT_EQ(c.max_positions, 16);
  // One window with masks, scored by the inference backend and by the training code.
  auto tok = load_tokenizer(out);
  std::vector<int32_t> ids = tok->encode("the quick brown fox jumps over the lazy dog", EncodeOptions{false, true});
  const std::vector<int> pos = {2, 5};
  std::vector<int32_t> target;
  int32_t mask = -1;
  for (int32_t i = 0; i < tok->vocab_size(); ++i)
    if (tok->piece(i) == "[MASK]") mask = i;
  for (int p : pos) target.push_back(ids[size_t(p)]), ids[size_t(p)] = mask;
  auto backend = make_cpu_backend(*model);
  Runner runner(*model, *backend);
  ForwardRequest req;
  req.ids = ids;
  req.all_logits = true;
  const ForwardResult fr = runner.forward(full_plan(c.n_layer), req);
  double inference = 0;
  for (size_t i = 0; i < pos.size(); ++i) {
    const float* z = fr.logits.data() + int64_t(pos[i]) * c.vocab;
    double mx = z[0], s = 0;
    for (int v = 1; v < c.vocab; ++v) mx = std::max(mx, double(z[v]));
    for (int v = 0; v < c.vocab; ++v) s += std::exp(double(z[v]) - mx);
    inference += mx + std::log(s) - z[target[i]];
  }
  const EncoderShape s{c.n_layer, c.d_model, c.n_head, c.d_ff, c.vocab, c.max_positions, c.type_vocab, c.norm_eps};
  EncoderModel<double> enc(s, full_plan(c.n_layer));
  MlmHead<double> head(c.d_model, c.vocab, c.norm_eps);
  const int64_t enc_n = train::parameter_count(enc.layout());
  std::vector<double> p(size_t(enc_n + train::parameter_count(head.layout())));
  SafetensorsFile f(out + "/model.safetensors");
  auto load = [&](const std::vector<train::TensorSpec>& layout, int64_t off) {
    for (const auto& t : layout) {
      const std::vector<float> v = f.read_f32(t.name);
      ASSERT_EQ(int64_t(v.size()), t.numel) << t.name;
      std::copy(v.begin(), v.end(), p.begin() + off + t.offset);
    }
  };
  load(enc.layout(), 0);
  load(head.layout(), enc_n);
  const auto& h = enc.forward(p.data(), ids, std::vector<int32_t>(ids.size(), 0), 0);
  const double trained = head.loss(p.data() + enc_n, p.data() + enc.layout()[0].offset, h.data(), int(ids.size()), pos,
                                   target, 1.0, nullptr, nullptr, nullptr);
  std::printf("loss: first 5 steps %.4f, last 5 %.4f; exported folder: inference %.6f, training head %.6f\n", first, last,
              inference, trained);
  EXPECT_NEAR(inference, trained, 1e-3 * std::abs(trained)) << "inference " << inference << ", training " << trained;
  std::filesystem::remove_all(out);
}

TEST(MlmPretrain, CliRefusesCausalOnlyFlags) {
  const std::string base = "train --objective mlm --data " + std::string(LAYERLAB_EVAL_DATA_DIR) +
                           "/text.txt --tokenizer " + shared_dir() + "/golden/bert-tiny --out /tmp/unused_mlm ";
  auto r = run_cli(base + "--blocks sas");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("--blocks: does not apply to --objective mlm"), std::string::npos) << r.out;
  r = run_cli("train --objective causal --mask-rate 0.2 --data x --tokenizer y --out z");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("--mask-rate: applies to --objective mlm only"), std::string::npos) << r.out;
  r = run_cli(base + "--objective span");
  EXPECT_NE(r.out.find("--objective: expected causal or mlm"), std::string::npos) << r.out;
}
