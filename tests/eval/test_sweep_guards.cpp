// What guards a sweep's results file and its outputs (src/eval/sweep.cpp, app/cmd_sweep.cpp):
// a second writer is refused, a resume with another spelling of the same paths is accepted,
// the baseline is always run, every sweep has a table (text, CSV, Markdown), and a bad --out
// is found before any work. Through the real CLI on the golden tiny GPT-2.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "cli_run.h"
#include "eval_fixtures.h"
#include "layerlab/fs.h"
#include "layerlab/sweep.h"

using namespace layerlab;
using namespace layerlab::testing;

namespace {

std::string temp_path(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/layerlab_guards_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  return dir + "/" + name;
}

// A small sweep: perplexity only (no chance level), one variant, N = 1.
std::string ppl_sweep(const std::string& model, const std::string& data, const std::string& out,
                      const std::string& variants = "skip") {
  return "sweep --model " + model + " --variants " + variants + " --n 1 --tasks perplexity --data perplexity=" + data +
         " --limit 1 --window 32 --out " + out + " --threads 1";
}

const std::string kModel = shared_dir() + "/golden/gpt2-tiny";

// Regression: two sweeps on one file both ran and recorded every configuration twice.
TEST(SweepGuards, SecondWriterIsRefused) {
  const std::string out = temp_path("locked.jsonl");
  const FileLock held(out, "this test");  // as a running sweep holds it
  const CliRun r = run_cli(ppl_sweep(kModel, eval_data("text.txt"), out));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("another process is writing it"), std::string::npos) << r.out;
  EXPECT_FALSE(file_exists(out)) << "the refused sweep wrote results";
}

// Regression: the baseline was skipped when --variants did not name it, so --summary and the
// normalised figure failed later; and a resume with "dir/../dir/model" was refused.
TEST(SweepGuards, BaselineAlwaysRunAndPathsCompareCanonically) {
  const std::string out = temp_path("ppl.jsonl");
  std::filesystem::remove(out);
  CliRun r = run_cli(ppl_sweep(kModel, eval_data("text.txt"), out));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("adding the baseline 'full'"), std::string::npos) << r.out;
  const auto records = read_sweep_results(out);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["variant"], "full");
  EXPECT_EQ(records[1]["variant"], "skip");
  const std::string other_spelling = shared_dir() + "/golden/../golden/gpt2-tiny";
  r = run_cli(ppl_sweep(other_spelling, eval_data("../data/text.txt"), out));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("2 already in"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 run now"), std::string::npos) << r.out;
}

// Regression: a perplexity-only sweep had no results table at all.
TEST(SweepGuards, EverySweepHasATableInThreeFormats) {
  const std::string out = temp_path("table.jsonl");
  std::filesystem::remove(out);
  ASSERT_EQ(run_cli(ppl_sweep(kModel, eval_data("text.txt"), out)).status, 0);
  const auto records = read_sweep_results(out);
  const double full = records[0]["score"].get<double>(), skip = records[1]["score"].get<double>();
  char want[64];
  std::snprintf(want, sizeof want, "%.3f", full);

  CliRun r = run_cli("sweep --summary " + out);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("perplexity perplexity"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(want), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no normalised summary"), std::string::npos) << r.out;

  r = run_cli("sweep --summary " + out + " --format csv");
  ASSERT_EQ(r.status, 0) << r.out;
  std::snprintf(want, sizeof want, "skip,1,0,%.3f,", skip);
  EXPECT_EQ(r.out.rfind("variant,N,seed,perplexity perplexity,stderr\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(want), std::string::npos) << r.out;

  r = run_cli("sweep --summary " + out + " --format markdown");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.rfind("| variant ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("|:--"), std::string::npos) << r.out;

  r = run_cli("sweep --summary " + out + " --format html");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("--format"), std::string::npos) << r.out;
  r = run_cli("sweep --summary " + out + " --limit 3");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("--limit: does not apply to --summary"), std::string::npos) << r.out;
}

// Regression: forward, eval and sweep found a bad output path only after computing.
TEST(SweepGuards, OutputPathsAreCheckedBeforeTheWork) {
  const std::string missing = temp_path("no/such/folder/x");
  CliRun r = run_cli(ppl_sweep(kModel, eval_data("text.txt"), missing + ".jsonl"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("--out: the folder"), std::string::npos) << r.out;
  r = run_cli("forward --model " + kModel + " --ids 1,2,3 --dump " + missing + ".safetensors");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("--dump: the folder"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("tokens"), std::string::npos) << "results printed before the error: " << r.out;
  r = run_cli("eval --model " + kModel + " --task perplexity --data " + eval_data("text.txt") + " --out " + missing +
              ".json");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("--out: the folder"), std::string::npos) << r.out;
  r = run_cli("eval --model " + kModel + " --task perplexity --data " + eval_data("text.txt") + " --out " +
              ::testing::TempDir());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("is a directory"), std::string::npos) << r.out;
}

}  // namespace

// The BOS policy (Llama: BOS first) is recorded in each line; a resume under another one is
// refused, naming the flag that continues it. Lines from before add_bos was recorded were run
// without BOS (the old default), so a Llama sweep from then is not silently mixed with BOS runs.
TEST(SweepGuards, BosPolicyIsRecordedAndAResumeMustMatchIt) {
  const std::string out = temp_path("bos.jsonl");
  std::filesystem::remove(out);
  const std::string base = "sweep --model " + shared_dir() + "/golden/llama-tiny --variants skip --n 1 "
                           "--tasks lambada_openai --data lambada_openai=" + eval_data("lambada_openai.jsonl") +
                           " --limit 1 --out " + out + " --threads 1";
  CliRun r = run_cli(base);
  ASSERT_EQ(r.status, 0) << r.out;
  auto records = read_sweep_results(out);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["add_bos"], true);
  r = run_cli(base + " --no-add-bos");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("add_bos = true, this sweep has false"), std::string::npos) << r.out;
  // A line of an older sweep: no add_bos field.
  std::string old;
  for (auto j : records) {
    j.erase("add_bos");
    old += j.dump() + "\n";
  }
  write_file_atomic(out, old);
  r = run_cli(base);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("give --no-add-bos to continue it"), std::string::npos) << r.out;
  r = run_cli(base + " --no-add-bos");
  EXPECT_EQ(r.status, 0) << r.out;
}
