// --data-dir (issue 14): eval and sweep find each task's file by its usual name under one folder
// (the layout of ../shared/data, written down in docs/EVAL.md), through the built CLI on the golden
// tiny GPT-2. The reference is that table of names: a folder holding only
// arc_easy/test.jsonl and hellaswag/validation.jsonl must give exactly the scores of --data
// with those files, and a missing file is an error naming the task and the path tried.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli_run.h"
#include "golden.h"

namespace layerlab::testing {
namespace {

namespace fs = std::filesystem;

const std::string kModel = shared_dir() + "/golden/gpt2-tiny";
const std::string kFixtures = LAYERLAB_EVAL_DATA_DIR;

class CliDataDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("layerlab_cli_data_dir_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data" / "arc_easy");
    fs::create_directories(dir_ / "data" / "hellaswag");
    fs::copy_file(kFixtures + "/arc_easy.jsonl", dir_ / "data" / "arc_easy" / "test.jsonl");
    fs::copy_file(kFixtures + "/hellaswag.jsonl", dir_ / "data" / "hellaswag" / "validation.jsonl");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string data() const { return (dir_ / "data").string(); }
  fs::path dir_;
};

// The metric lines of an eval run (everything after the "task ..." line).
std::string metrics_of(const std::string& out) {
  const size_t at = out.find("\ntask ");
  return at == std::string::npos ? out : out.substr(at);
}

TEST_F(CliDataDir, EvalFindsTheUsualFile) {
  for (const auto& [task, file] : {std::pair{"arc_easy", "arc_easy.jsonl"}, std::pair{"hellaswag", "hellaswag.jsonl"}}) {
    SCOPED_TRACE(task);
    const CliRun by_dir = run_cli("eval --model " + kModel + " --task " + task + " --data-dir " + data());
    const CliRun by_file = run_cli("eval --model " + kModel + " --task " + task + " --data " + kFixtures + "/" + file);
    ASSERT_EQ(by_dir.status, 0) << by_dir.out;
    ASSERT_EQ(by_file.status, 0) << by_file.out;
    EXPECT_EQ(metrics_of(by_dir.out), metrics_of(by_file.out));
  }
}

TEST_F(CliDataDir, MissingFileNamesTaskAndPath) {
  const CliRun r = run_cli("eval --model " + kModel + " --task winogrande --data-dir " + data());
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("--data-dir: no data file for task 'winogrande': " + data() + "/winogrande/validation.jsonl not found"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("lambada_openai, hellaswag, arc_easy, arc_challenge, winogrande, gsm8k, perplexity"),
            std::string::npos)
      << r.out;
  const CliRun mlm = run_cli("eval --model " + kModel + " --task mlm --data-dir " + data());
  EXPECT_EQ(mlm.status, 1);
  EXPECT_NE(mlm.out.find("task 'mlm' has no usual data file"), std::string::npos) << mlm.out;
  const CliRun not_dir = run_cli("eval --model " + kModel + " --task arc_easy --data-dir " + data() + "/nope");
  EXPECT_EQ(not_dir.status, 1);
  EXPECT_NE(not_dir.out.find("--data-dir: '" + data() + "/nope' is not a directory"), std::string::npos) << not_dir.out;
}

TEST_F(CliDataDir, DataAndDataDirTogetherIsAnError) {
  const CliRun e = run_cli("eval --model " + kModel + " --task arc_easy --data-dir " + data() + " --data " + kFixtures +
                           "/arc_easy.jsonl");
  EXPECT_EQ(e.status, 1);
  EXPECT_NE(e.out.find("--data-dir: give either --data FILE or --data-dir DIR, not both"), std::string::npos) << e.out;
  const CliRun s = run_cli("sweep --model " + kModel + " --tasks arc_easy --variants skip --n 1 --data-dir " + data() +
                           " --data arc_easy=x --out " + (dir_ / "r.jsonl").string());
  EXPECT_EQ(s.status, 1);
  EXPECT_NE(s.out.find("--data-dir: give either --data TASK=FILE,... or --data-dir DIR, not both"), std::string::npos)
      << s.out;
  const CliRun none = run_cli("eval --model " + kModel + " --task arc_easy");
  EXPECT_EQ(none.status, 1);
  EXPECT_NE(none.out.find("--data: required option is missing (or give --data-dir DIR)"), std::string::npos) << none.out;
}

// A sweep records the file it found: the same data paths as a sweep given --data.
TEST_F(CliDataDir, SweepRecordsTheFoundFiles) {
  const std::string out = (dir_ / "r.jsonl").string();
  const CliRun r = run_cli("sweep --quiet --model " + kModel + " --tasks arc_easy,hellaswag --variants skip --n 1 --data-dir " +
                           data() + " --out " + out);
  ASSERT_EQ(r.status, 0) << r.out;
  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find(fs::weakly_canonical(dir_ / "data" / "arc_easy" / "test.jsonl").string()), std::string::npos) << text;
  EXPECT_NE(text.find(fs::weakly_canonical(dir_ / "data" / "hellaswag" / "validation.jsonl").string()), std::string::npos)
      << text;
  // Resuming with --data and the same files finds every configuration done.
  const CliRun again = run_cli("sweep --model " + kModel + " --tasks arc_easy,hellaswag --variants skip --n 1 --data arc_easy=" +
                               data() + "/arc_easy/test.jsonl,hellaswag=" + data() + "/hellaswag/validation.jsonl --out " + out);
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("0 run now"), std::string::npos) << again.out;
}

}  // namespace
}  // namespace layerlab::testing
