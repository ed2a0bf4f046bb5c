// Flags that cannot apply are errors that say why (issue 17), and empty data files are errors
// naming the file, through the built CLI on the golden tiny GPT-2 (6 layers, context 256).
// Each case was silently accepted (or clamped, or scored as "1 items, perplexity n/a") before.
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

class CliChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("layerlab_cli_checks_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string file(const std::string& name, const std::string& content) const {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
    return p;
  }
  // A model folder whose tokenizer has no BOS token (tokenizer_config.json: bos_token null).
  std::string model_without_bos() const {
    const fs::path d = dir_ / "no-bos";
    if (fs::exists(d)) return d.string();
    fs::create_directories(d);
    for (const char* f : {"config.json", "model.safetensors", "vocab.json", "merges.txt"})
      fs::copy_file(fs::path(kModel) / f, d / f);
    std::ofstream(d / "tokenizer_config.json") << R"({"bos_token": null, "eos_token": "<|endoftext|>"})";
    return d.string();
  }
  // Exit status 1, the message, and nothing printed before it (no work done).
  static void expect_error(const std::string& args, const std::string& message) {
    SCOPED_TRACE(args);
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find(message), std::string::npos) << "expected '" << message << "' in:\n" << r.out;
    EXPECT_EQ(r.out.rfind("layerlab ", 0), 0u) << "output before the error:\n" << r.out;
  }
  std::string text() const { return file("text.txt", "The quick brown fox jumps over the lazy dog. It was a sunny day."); }
  fs::path dir_;
};

const std::string kForward = "forward --model " + kModel + " --ids 464,2068,7586 ";

// generate: -n is the token count; --n is the N of --variant and was ignored without one.
TEST_F(CliChecks, GenerateNWithoutVariant) {
  expect_error("generate --model " + kModel + " --prompt hi --n 5",
               "--n: is the N of --variant, and no --variant was given (the number of tokens to generate is -n or "
               "--tokens)");
  expect_error(kForward + "--n 2", "--n: is the N of --variant, and no --variant was given");
  expect_error(kForward + "--variant full --n 2", "--n: --variant full runs every layer and takes no N");
  // -n itself still works.
  const CliRun ok = run_cli("generate --model " + kModel + " --ids 464 -n 3 --temperature 0");
  EXPECT_EQ(ok.status, 0) << ok.out;
}

// --window above the model's context was clamped to it silently.
TEST_F(CliChecks, WindowBeyondTheContext) {
  expect_error("eval --model " + kModel + " --task perplexity --data " + text() + " --window 100000",
               "--window: 100000 exceeds the model's context of 256 tokens");
  const std::string seqs = file("seqs.txt", "The quick brown fox");
  expect_error("similarity --model " + kModel + " --text-file " + seqs + " --max-tokens 100000 --out " +
                   (dir_ / "sim").string(),
               "--max-tokens: 100000 exceeds the model's context of 256 tokens");
}

TEST_F(CliChecks, StrideZeroAndStrideWithoutPerplexity) {
  expect_error("eval --model " + kModel + " --task perplexity --data " + text() + " --stride 0",
               "--stride: must be >= 1, got 0");
  const std::string lambada = file("lambada.jsonl", "{\"text\": \"the cat sat on the mat\"}\n");
  expect_error("eval --model " + kModel + " --task lambada_openai --data " + lambada + " --stride 8",
               "--stride: changes nothing for lambada_openai: it applies only to perplexity");
}

TEST_F(CliChecks, ThreadsZero) {
  expect_error(kForward + "--threads 0", "--threads: must be in [1, 4096], got 0");
  expect_error("serve --model " + kModel + " --threads 0", "--threads: must be in [1, 4096], got 0");
  expect_error("train --data x --tokenizer y --out z --threads 0", "--threads: must be in [1, 4096], got 0");
}

TEST_F(CliChecks, KOnlyWithLoopedParallel) {
  expect_error(kForward + "--variant parallel --n 1 --k 4",
               "--k: only --variant looped_parallel repeats its middle group K times (this is --variant parallel)");
  expect_error(kForward + "--k 4", "--k: is the K of --variant looped_parallel, and no --variant was given");
  expect_error("sweep --model " + kModel + " --variants skip --k 4 --tasks perplexity --data perplexity=" + text() +
                   " --out " + (dir_ / "r.jsonl").string(),
               "--k: only looped_parallel repeats its middle group K times, and it is not among --variants");
  const CliRun ok = run_cli(kForward + "--variant looped_parallel --n 1 --k 4");
  EXPECT_EQ(ok.status, 0) << ok.out;
  EXPECT_NE(ok.out.find("plan   0,[1-4]x4,5"), std::string::npos) << ok.out;
}

TEST_F(CliChecks, SeedOnlyWhereSomethingIsRandom) {
  expect_error(kForward + "--variant reverse --n 1 --seed 3",
               "--seed: only --variant shuffle is random; --variant reverse has nothing a seed changes");
  expect_error(kForward + "--seed 3", "--seed: only --variant shuffle uses a seed, and no --variant was given");
  expect_error(kForward + "--plan 0-5 --seed 3", "--seed: applies to --variant shuffle only");
  expect_error("generate --model " + kModel + " --ids 464 --temperature 0 --seed 3",
               "--seed: nothing is random: --temperature 0 is greedy");
  expect_error("sweep --model " + kModel + " --variants skip --seeds 3 --tasks perplexity --data perplexity=" +
                   text() + " --out " + (dir_ / "r.jsonl").string(),
               "--seeds: only shuffle is random, and it is not among --variants");
  const CliRun ok = run_cli(kForward + "--variant shuffle --n 1 --seed 3");
  EXPECT_EQ(ok.status, 0) << ok.out;
}

TEST_F(CliChecks, AddBosWhereItChangesNothing) {
  const std::string lambada = file("lambada.jsonl", "{\"text\": \"the cat sat on the mat\"}\n");
  expect_error("eval --model " + model_without_bos() + " --task lambada_openai --data " + lambada + " --add-bos",
               "--add-bos: changes nothing: the model's tokenizer has no BOS token");
  expect_error("eval --model " + kModel + " --task perplexity --data " + text() + " --add-bos",
               "--add-bos: changes nothing for perplexity");
  expect_error("sweep --model " + kModel + " --variants skip --n 1 --tasks perplexity --data perplexity=" + text() +
                   " --add-bos --out " + (dir_ / "r.jsonl").string(),
               "--add-bos: changes nothing for perplexity");
  expect_error("tokenize --model " + model_without_bos() + " --add-bos hello",
               "--add-bos: changes nothing: the model's tokenizer has no BOS token");
  // Where it does change the input it is accepted.
  const CliRun ok = run_cli("tokenize --model " + kModel + " --add-bos hello");
  EXPECT_EQ(ok.status, 0) << ok.out;
  EXPECT_EQ(ok.out.rfind("50256 ", 0), 0u) << ok.out;
}

// Item 3: an empty data file scored "1 items, perplexity n/a" and exited 0.
TEST_F(CliChecks, EmptyDataFileIsAnErrorNamingIt) {
  const std::string empty = file("empty.txt", "");
  expect_error("eval --model " + kModel + " --task perplexity --data " + empty, empty + ": no text to score: the file is empty");
  const std::string blank_docs = file("blank.jsonl", "{\"text\": \"\"}\n{\"text\": \"\"}\n");
  expect_error("eval --model " + kModel + " --task perplexity --data " + blank_docs,
               blank_docs + ": no text to score: its 2 document(s) are empty");
  const std::string empty_jsonl = file("empty.jsonl", "");
  expect_error("eval --model " + kModel + " --task hellaswag --data " + empty_jsonl, empty_jsonl + ": ");
  expect_error("sweep --model " + kModel + " --variants skip --n 1 --tasks perplexity --data perplexity=" + empty +
                   " --out " + (dir_ / "r.jsonl").string(),
               ": no text to score: the file is empty");
  EXPECT_FALSE(fs::exists(dir_ / "r.jsonl"));
}

// Item 4: generate printed the prompt, then the error; everything is checked first now.
TEST_F(CliChecks, GenerateValidatesBeforePrinting) {
  const std::string g = "generate --model " + kModel + " --prompt 'Once upon' ";
  expect_error(g + "-n 100000", "--tokens: the prompt's 2 tokens + 100000 new ones exceed the model's context of 256");
  expect_error(g + "--top-p 0", "--top-p: must be in (0, 1], got 0");
  expect_error(g + "--stop 99999999", "--stop: token id 99999999 is outside the model's vocabulary of 50257");
  expect_error(g + "--variant skip --n 3", "--n: N = 3 leaves no middle layers in a 6-layer model");
  expect_error(g + "--temperature 0 --top-k 5", "--top-k: has no effect with --temperature 0");
  expect_error("generate --model " + kModel + " --ids 464,99999", "--ids: token id 99999 is outside the model's vocabulary");
}

// Kept: forward --dump into a missing folder fails before the work.
TEST_F(CliChecks, ForwardDumpIntoAMissingFolder) {
  expect_error(kForward + "--dump " + (dir_ / "missing" / "out.safetensors").string(), "--dump: the folder");
}

}  // namespace
}  // namespace layerlab::testing
