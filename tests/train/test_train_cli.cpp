// The training loop end to end through the CLI: exact resume, logs, export, comparison and
// errors. Tiny models on a small Python text so the whole file runs in a few seconds.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "layerlab/model.h"
#include "layerlab/plan.h"
#include "layerlab/runner.h"
#include "layerlab/safetensors.h"
#include "layerlab/tokenizer.h"
#include "layerlab/train.h"

namespace fs = std::filesystem;

namespace {

const std::string kTok = std::string(LAYERLAB_SHARED_DIR) + "/tokenizers/gpt2";

struct Result {
  int code;
  std::string output;
};

Result run(const std::string& args) {
  const std::string log = (fs::temp_directory_path() / "layerlab_train_cli.log").string();
  const std::string cmd = std::string(LAYERLAB_CLI) + " train " + args + " > " + log + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  return {WEXITSTATUS(status), ss.str()};
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Column `col` of a CSV (header skipped).
std::vector<std::string> column(const std::string& csv, int col) {
  std::vector<std::string> out;
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string cell;
    for (int i = 0; i <= col; ++i) std::getline(ls, cell, ',');
    out.push_back(cell);
  }
  return out;
}

class TrainCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("layerlab_train_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ofstream data(dir_ / "train.jsonl");
    for (int d = 0; d < 40; ++d) {
      std::string text = "def f" + std::to_string(d) + "(x):\n";
      for (int i = 0; i < 12; ++i)
        text += "    y" + std::to_string(i) + " = x * " + std::to_string(d + i) + " + " + std::to_string(i) + "\n";
      text += "    return y3\n";
      data << "{\"text\": \"";
      for (char c : text) data << (c == '\n' ? std::string("\\n") : std::string(1, c));
      data << "\"}\n";
    }
    std::ofstream val(dir_ / "val.txt");
    val << "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n\n"
           "    def norm(self):\n        return (self.x ** 2 + self.y ** 2) ** 0.5\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string common(const std::string& blocks) const {
    return "--blocks " + blocks + " --layers 2 --width 32 --heads 2 --context 16 --batch 2 --lr 3e-3 --steps 8 " +
           "--eval-every 4 --eval-batches 1 --tokenizer " + kTok + " --data " + (dir_ / "train.jsonl").string() +
           " --val " + (dir_ / "val.txt").string() + " --quiet --threads 2";
  }
  fs::path dir_;
};

TEST_F(TrainCli, ResumeGivesIdenticalLosses) {
  for (const std::string blocks : {"preln", "sasp"}) {
    const fs::path a = dir_ / ("full_" + blocks), b = dir_ / ("split_" + blocks);
    Result r = run(common(blocks) + " --out " + a.string());
    ASSERT_EQ(r.code, 0) << r.output;
    r = run(common(blocks) + " --stop-after 4 --out " + b.string());
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(column(read(b / "log.csv"), 2).size(), 4u);
    r = run(common(blocks) + " --resume --out " + b.string());
    ASSERT_EQ(r.code, 0) << r.output;
    const auto la = column(read(a / "log.csv"), 2), lb = column(read(b / "log.csv"), 2);
    ASSERT_EQ(la.size(), 8u);
    EXPECT_EQ(la, lb) << blocks;                                                    // training loss, printed to 1e-6
    EXPECT_EQ(column(read(a / "log.csv"), 3), column(read(b / "log.csv"), 3));  // validation loss
    EXPECT_EQ(read(a / "model" / "model.safetensors"), read(b / "model" / "model.safetensors")) << blocks;
    // The loss moved: training actually trains.
    EXPECT_LT(std::stod(la.back()), std::stod(la.front()));
  }
}

TEST_F(TrainCli, PrelnExportLoadsAsGpt2AndGivesTheSameLoss) {
  const fs::path a = dir_ / "preln";
  Result r = run(common("preln") + " --out " + a.string());
  ASSERT_EQ(r.code, 0) << r.output;
  auto model = layerlab::load_model((a / "model").string());
  EXPECT_EQ(model->config().family, "gpt2");
  EXPECT_EQ(model->config().n_layer, 2);
  // Loss of one window through the inference engine (CPU backend, itself checked against
  // Hugging Face) vs the training code's forward on the exported weights.
  std::vector<int32_t> ids;
  for (int i = 0; i < 16; ++i) ids.push_back((i * 37 + 5) % 50257);
  auto backend = layerlab::make_cpu_backend(*model);
  layerlab::Runner runner(*model, *backend);
  layerlab::ForwardRequest req;
  req.ids = ids;
  req.logprobs_next = true;
  const auto res = runner.forward(layerlab::full_plan(2), req);
  double engine = 0;
  for (float lp : res.logprobs_next) engine -= lp;
  engine /= res.logprobs_next.size();

  layerlab::train::ModelShape s;
  s.n_layer = 2;
  s.d_model = 32;
  s.n_head = 2;
  s.context = 16;
  s.vocab = 50257;
  layerlab::train::Transformer<float> m(s);
  layerlab::SafetensorsFile st((a / "model" / "model.safetensors").string());
  for (const auto& t : m.layout()) {
    std::vector<float> w = st.read_f32("transformer." + t.name + (t.embedding ? ".weight" : ""));
    if (t.matrix) {  // Conv1D [in, out] back to [out, in]
      for (int64_t r = 0; r < t.shape[0]; ++r)
        for (int64_t c = 0; c < t.shape[1]; ++c) m.params()[t.offset + r * t.shape[1] + c] = w[c * t.shape[0] + r];
    } else {
      std::copy(w.begin(), w.end(), m.params().begin() + t.offset);
    }
  }
  std::vector<int32_t> in(ids.begin(), ids.end() - 1), tgt(ids.begin() + 1, ids.end());
  const double trainer = m.forward(in.data(), tgt.data(), 1, 15);
  EXPECT_NEAR(engine, trainer, 1e-4 * std::abs(trainer));  // float32, two implementations

  // The folder carries the training tokenizer's files, so it takes text: the same ids as the
  // tokenizer the run was given.
  EXPECT_EQ(read(a / "model" / "vocab.json"), read(fs::path(kTok) / "vocab.json"));
  EXPECT_EQ(read(a / "model" / "merges.txt"), read(fs::path(kTok) / "merges.txt"));
  const std::string text = "def main(argv):\n    return 0  # \u00e9t\u00e9\n";
  EXPECT_EQ(layerlab::load_tokenizer((a / "model").string())->encode(text),
            layerlab::load_tokenizer(kTok)->encode(text));
}

TEST_F(TrainCli, CompareWritesTablePlotAndJson) {
  for (const std::string blocks : {"preln", "sas"}) {
    Result r = run(common(blocks) + " --out " + (dir_ / blocks).string());
    ASSERT_EQ(r.code, 0) << r.output;
  }
  Result r = run("--compare " + (dir_ / "preln").string() + " " + (dir_ / "sas").string() + " --out " +
                 (dir_ / "cmp").string());
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string md = read(dir_ / "cmp.md"), svg = read(dir_ / "cmp.svg");
  EXPECT_NE(md.find("| preln |"), std::string::npos) << md;
  EXPECT_NE(md.find("| sas |"), std::string::npos) << md;
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("Validation loss"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir_ / "sas" / "model" / "layerlab_config.json"));
}

TEST_F(TrainCli, ClearErrors) {
  Result r = run(common("mlpmixer") + " --out " + (dir_ / "x").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--blocks: unknown block type 'mlpmixer'"), std::string::npos) << r.output;
  r = run(common("preln") + " --norm none --out " + (dir_ / "x").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--norm: none needs a skipless block"), std::string::npos) << r.output;
  r = run("--data /nonexistent.jsonl --tokenizer " + kTok + " --out " + (dir_ / "x").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("/nonexistent.jsonl"), std::string::npos) << r.output;
  r = run(common("preln") + " --width 30 --heads 4 --out " + (dir_ / "x").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("must divide width"), std::string::npos) << r.output;
  std::ofstream(dir_ / "bad.jsonl") << "{\"text\": \"ok\"}\n{\"txt\": 1}\n";
  r = run("--data " + (dir_ / "bad.jsonl").string() + " --tokenizer " + kTok + " --out " + (dir_ / "x").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("bad.jsonl:2"), std::string::npos) << r.output;
  // Resuming with a different learning rate is refused, naming what differs.
  ASSERT_EQ(run(common("preln") + " --stop-after 2 --out " + (dir_ / "r").string()).code, 0);
  r = run(common("preln") + " --lr 1e-2 --resume --out " + (dir_ / "r").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("'optim' differs"), std::string::npos) << r.output;
}

// Regression: `--out runs/sasp` failed when runs/ did not exist, and a run that failed (here:
// a missing data file) left an empty run folder behind.
TEST_F(TrainCli, RunFolderWithParentsAndNoEmptyFolderAfterAFailure) {
  const fs::path nested = dir_ / "runs" / "deeper" / "sasp";
  Result r = run(common("sasp") + " --out " + nested.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(nested / "summary.json"));
  const fs::path failed = dir_ / "runs" / "failed";
  r = run("--data /nonexistent.jsonl --tokenizer " + kTok + " --out " + failed.string());
  EXPECT_EQ(r.code, 1);
  EXPECT_FALSE(fs::exists(failed)) << "a failed run left " << failed;
}

}  // namespace
