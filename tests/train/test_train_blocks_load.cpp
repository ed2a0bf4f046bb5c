// Every block type trained with the real CLI (`layerlab train`, a few steps) loads back through
// load_model, and layerlab's inference engine gives the trainer's own loss on the same windows
// (relative 1e-4, float32: two implementations with different summation orders). preln comes
// back as a GPT-2 folder (tested in test_train_cli.cpp); the others in the trainer's format.
// The CLI's model commands (info, forward with a plan) accept the folders too.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "layerlab/model.h"
#include "layerlab/plan.h"
#include "trained_blocks.h"

namespace fs = std::filesystem;

namespace layerlab::testing {
namespace {

const std::string kTok = std::string(LAYERLAB_SHARED_DIR) + "/tokenizers/gpt2";

struct Result {
  int code;
  std::string output;
};

Result cli(const std::string& args) {
  const std::string log =
      (fs::temp_directory_path() / ("layerlab_blocks_cli_" + std::to_string(::getpid()) + ".log")).string();
  const int status = std::system((std::string(LAYERLAB_CLI) + " " + args + " > " + log + " 2>&1").c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(log);
  return {WEXITSTATUS(status), ss.str()};
}

class TrainedBlocksLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("layerlab_train_blocks_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ofstream data(dir_ / "train.jsonl");
    for (int d = 0; d < 30; ++d) {
      std::string text = "def g" + std::to_string(d) + "(a, b):\\n";
      for (int i = 0; i < 10; ++i) text += "    c" + std::to_string(i) + " = a * " + std::to_string(d * i) + " - b\\n";
      data << "{\"text\": \"" << text << "    return c1\\n\"}\n";
    }
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(TrainedBlocksLoad, EveryBlockGivesTheTrainersLoss) {
  // GPT-2 token windows (ids of Python text pieces) of 16 tokens = the context: 15 predictions.
  const std::vector<std::vector<int32_t>> wins = {
      {4299, 308, 7, 64, 11, 275, 2599, 198, 220, 220, 220, 269, 796, 257, 1635, 642},
      {220, 220, 1441, 269, 16, 198, 4299, 308, 1065, 7, 64, 11, 275, 2599, 198, 220}};
  for (const BlockCase& c : all_block_cases()) {
    if (c.block == BlockKind::PreLN) continue;  // exported as GPT-2: test_train_cli.cpp
    const fs::path out = dir_ / c.name();
    const std::string args = std::string("train --blocks ") + block_kind_name(c.block) +
                             (c.norm ? "" : " --norm none") + " --layers 3 --width 32 --heads 2 --context 16 --batch 2 --lr 3e-3 --steps 4 --warmup 1"
                             " --eval-every 100 --tokenizer " + kTok + " --data " + (dir_ / "train.jsonl").string() +
                             " --quiet --threads 2 --out " + out.string();
    Result r = cli(args);
    ASSERT_EQ(r.code, 0) << r.output;
    const std::string model_dir = (out / "model").string();
    ASSERT_TRUE(fs::exists(out / "model" / "layerlab_config.json")) << c.name();

    auto model = load_model(model_dir);
    EXPECT_EQ(model->config().family, "layerlab");
    EXPECT_EQ(model->config().block, c.block);
    auto backend = make_cpu_backend(*model);
    Runner runner(*model, *backend);
    auto trainer = read_trainer(model_dir);
    for (const auto& w : wins) {
      const double ref = trainer_loss(*trainer, w);
      EXPECT_NEAR(engine_loss(runner, full_plan(3), w), ref, 1e-4 * std::abs(ref)) << c.name();
      // A skip plan equals the trainer's model without that layer.
      auto skipped = read_trainer(model_dir, {0, 2});
      const double ref_skip = trainer_loss(*skipped, w);
      EXPECT_NEAR(engine_loss(runner, parse_plan_text("0,2"), w), ref_skip, 1e-4 * std::abs(ref_skip)) << c.name();
    }

    // The CLI's model commands take the folder: info shows the block, forward runs a plan.
    r = cli("info --model " + model_dir);
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find(std::string("block         ") + block_kind_name(c.block)), std::string::npos) << r.output;
    r = cli("forward --model " + model_dir + " --ids 4299,308,7,64,11 --plan 0,[1,2]x2 --threads 1");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("mean next-token loss"), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace layerlab::testing
