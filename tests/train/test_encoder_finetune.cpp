// The fine-tuning loop: the learning-rate schedule against hand-worked values of Hugging Face's
// get_linear_schedule_with_warmup, the frozen-pooler head's gradient against finite
// differences, exact resume (a run stopped after one epoch and resumed ends bit-for-bit as the
// uninterrupted run), and the CLI's errors for bad GLUE files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "cli_run.h"
#include "golden.h"
#include "layerlab/finetune.h"
#include "layerlab/fs.h"
#include "layerlab/safetensors.h"

using namespace layerlab;
using namespace layerlab::testing;
namespace fs = std::filesystem;

namespace {

std::string scratch(const std::string& name) {
  const fs::path p = fs::path(::testing::TempDir()) / ("layerlab_ft_" + name);
  fs::remove_all(p);
  return p.string();
}

std::string finetune_cmd(const std::string& out, const std::string& extra) {
  return "finetune --model " + shared_dir() + "/golden/bert-tiny --data-dir " + shared_dir() +
         "/data/glue --task sst2 --batch 16 --lr 1e-3 --seed 5 --limit-train 48 --limit-dev 24 --out " + out + " " + extra;
}

}  // namespace

TEST(EncoderFinetune, LinearScheduleAsHuggingFace) {
  // lr * step / warmup, then lr * (total - step) / (total - warmup); the first step's rate is 0.
  EXPECT_DOUBLE_EQ(finetune::linear_schedule(1.0, 0, 2, 10), 0.0);
  EXPECT_DOUBLE_EQ(finetune::linear_schedule(1.0, 1, 2, 10), 0.5);
  EXPECT_DOUBLE_EQ(finetune::linear_schedule(1.0, 2, 2, 10), 1.0);
  EXPECT_DOUBLE_EQ(finetune::linear_schedule(1.0, 6, 2, 10), 0.5);
  EXPECT_DOUBLE_EQ(finetune::linear_schedule(1.0, 9, 2, 10), 0.125);
  EXPECT_DOUBLE_EQ(finetune::linear_schedule(2e-5, 0, 0, 4), 2e-5);  // no warm-up: full rate at once
  EXPECT_DOUBLE_EQ(finetune::linear_schedule(2e-5, 3, 0, 4), 0.5e-5);
}

TEST(EncoderFinetune, FrozenPoolerHeadGradientAgainstFiniteDifferences) {
  const int d = 6, L = 3, B = 4;
  finetune::Head<double> head(finetune::HeadShape{d, L, false});
  std::mt19937_64 rng(11);
  std::normal_distribution<double> nd(0.0, 0.7);
  for (double& v : head.params()) v = nd(rng);
  std::vector<double> x(B * d);
  for (double& v : x) v = nd(rng);
  const std::vector<int> labels = {0, 2, 1, 2};
  std::vector<double> dx(x.size());
  head.loss(x.data(), B, labels.data(), nullptr, true, dx.data());
  const std::vector<double> g = head.grads();
  const double h = 1e-6;
  auto loss = [&] { return head.loss(x.data(), B, labels.data(), nullptr, false); };
  for (size_t i = 0; i < g.size(); ++i) {
    const double keep = head.params()[i];
    head.params()[i] = keep + h;
    const double up = loss();
    head.params()[i] = keep - h;
    const double down = loss();
    head.params()[i] = keep;
    EXPECT_NEAR(g[i], (up - down) / (2 * h), 1e-7) << i;
  }
  for (size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + h;
    const double up = loss();
    x[i] = keep - h;
    const double down = loss();
    x[i] = keep;
    EXPECT_NEAR(dx[i], (up - down) / (2 * h), 1e-7) << i;
  }
}

// Two epochs in one run, and the same run stopped after one epoch then resumed: the same dev metrics, losses and
// final parameters, for head-only and full fine-tuning.
// Also: the first step's loss (before any update) is the same whether the [CLS] features come
// from the inference backend (head-only) or from the training encoder (full): two separate
// implementations of the BERT forward, both float32 (tolerance 1e-5).
TEST(EncoderFinetune, ResumeIsExact) {
  std::vector<double> first_loss;
  for (const std::string mode : {"--head-only", ""}) {
    const std::string a = scratch("a" + std::to_string(mode.size())), b = scratch("b" + std::to_string(mode.size()));
    ASSERT_EQ(run_cli(finetune_cmd(a, mode + " --epochs 2 --record-steps 1")).status, 0);
    first_loss.push_back(nlohmann::json::parse(read_text_file(a + "/first_steps.json"))["steps"][0]["loss"].get<double>());
    ASSERT_EQ(run_cli(finetune_cmd(b, mode + " --epochs 2 --stop-after 1")).status, 0);
    ASSERT_EQ(nlohmann::json::parse(read_text_file(b + "/results.json"))["history"].size(), 1u);
    EXPECT_NE(run_cli(finetune_cmd(b, mode + " --epochs 3 --resume")).out.find("resume with the same --epochs"), std::string::npos);
    const CliRun r = run_cli(finetune_cmd(b, mode + " --epochs 2 --resume"));
    ASSERT_EQ(r.status, 0) << r.out;
    const auto ja = nlohmann::json::parse(read_text_file(a + "/results.json"));
    const auto jb = nlohmann::json::parse(read_text_file(b + "/results.json"));
    ASSERT_EQ(ja["history"].size(), 2u);
    ASSERT_EQ(jb["history"].size(), 2u);
    for (int e = 0; e < 2; ++e) {
      EXPECT_EQ(ja["history"][e]["train_loss"], jb["history"][e]["train_loss"]) << mode << e;
      EXPECT_EQ(ja["history"][e]["dev"], jb["history"][e]["dev"]) << mode << e;
    }
    SafetensorsFile fa(a + "/checkpoint.safetensors"), fb(b + "/checkpoint.safetensors");
    EXPECT_EQ(fa.read_f32("params"), fb.read_f32("params")) << mode;
    EXPECT_EQ(fa.read_f32("adam.v"), fb.read_f32("adam.v")) << mode;
  }
  EXPECT_NEAR(first_loss[0], first_loss[1], 1e-5);
}

TEST(EncoderFinetune, CliErrorsNameFileLineAndField) {
  const std::string dir = scratch("data");
  fs::create_directories(dir + "/rte");
  std::ofstream(dir + "/rte/train.jsonl") << "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": 0}\n"
                                          << "{\"sentence1\": \"a\", \"label\": 1}\n";
  std::ofstream(dir + "/rte/validation.jsonl") << "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": 7}\n";
  const std::string base = "finetune --model " + shared_dir() + "/golden/bert-tiny --data-dir " + dir + " --out " + scratch("o");
  CliRun r = run_cli(base + " --task rte --head-only");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("rte/train.jsonl:2: missing field 'sentence2'"), std::string::npos) << r.out;
  std::ofstream(dir + "/rte/train.jsonl") << "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": 0}\n";
  r = run_cli(base + " --task rte --head-only");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("rte/validation.jsonl:1: field 'label'"), std::string::npos) << r.out;
  r = run_cli(base + " --task mnli");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("--task: unknown GLUE task 'mnli'"), std::string::npos) << r.out;
  r = run_cli("finetune --model " + shared_dir() + "/golden/gpt2-tiny --data-dir " + dir + " --task rte --out " + scratch("g"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("needs a BERT model"), std::string::npos) << r.out;
}
