// Sweeps through the real CLI (LAYERLAB_CLI) on the golden tiny GPT-2 with the fixture data:
// killed with SIGKILL at random moments and restarted until done, a sweep must end with
// exactly one result per configuration, equal to an uninterrupted run; a torn last line is
// repaired; results of a different setup are refused. Also the normalisation and the plots.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "cli_run.h"
#include "eval_fixtures.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/plot.h"
#include "layerlab/sweep.h"

extern char** environ;

using namespace layerlab;
using namespace layerlab::testing;
using nlohmann::json;

namespace {

std::vector<std::string> sweep_args(const std::string& out, const std::string& limit = "2") {
  return {LAYERLAB_CLI, "sweep", "--model", shared_dir() + "/golden/gpt2-tiny", "--variants", "all", "--n", "1..2",
          "--seeds", "2", "--tasks", "lambada_openai,winogrande,hellaswag", "--data",
          "lambada_openai=" + eval_data("lambada_openai.jsonl") + ",winogrande=" + eval_data("winogrande.jsonl") +
              ",hellaswag=" + eval_data("hellaswag.jsonl"),
          "--limit", limit, "--out", out, "--quiet", "--threads", "1"};
}

int run_to_end(const std::vector<std::string>& args) {
  int status = 0;
  waitpid(spawn_quiet(args), &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// key -> record without its timing, failing on any duplicate key.
std::map<std::string, json> by_key(const std::string& path) {
  std::map<std::string, json> out;
  for (json r : read_sweep_results(path)) {
    r.erase("seconds");
    const std::string k = sweep_key(r, path).text();
    EXPECT_EQ(out.count(k), 0u) << "configuration recorded twice: " << k;
    out[k] = r;
  }
  return out;
}

std::string temp_path(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/layerlab_sweep_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  return dir + "/" + name;
}

}  // namespace

TEST(Sweep, KilledAtRandomMomentsEndsEqualToAnUninterruptedRun) {
  const std::string ref = temp_path("reference.jsonl"), killed = temp_path("killed.jsonl");
  std::filesystem::remove(ref);
  std::filesystem::remove(killed);
  auto ms_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  };
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run_to_end(sweep_args(ref)), 0);
  const double full_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run_to_end(sweep_args(ref)), 0);  // nothing left to do: start-up time only
  const double startup_ms = ms_since(t0);
  const auto reference = by_key(ref);
  ASSERT_EQ(reference.size(), 45u);  // 3 tasks x (full + 2 N x (6 variants + 1 extra shuffle seed))

  // 6 groups ((task, N) pairs). Kills are placed by the sweep's own progress, so they land the
  // same way on a fast or a slow machine: every fourth round dies at a random moment of start-up
  // (before any work); the others once the round has appended a result, then at a random moment
  // within the next 1.5 groups of work: mid-evaluation, mid-append or between appends.
  const double group_ms = std::max(1.0, (full_ms - startup_ms) / 6);
  const size_t kMostLinesPerGroup = 8;  // a group's results: 7 configurations (+ the task's full plan)
  std::mt19937 rng(20240709);  // fixed, so the test repeats
  std::uniform_real_distribution<double> when(0.0, 1.5);
  auto lines = [&] { return file_exists(killed) ? read_sweep_results(killed).size() : size_t(0); };
  int kills = 0, rounds = 0;
  for (bool finished = false; !finished && rounds < 60; ++rounds) {
    const size_t before = lines();
    const pid_t pid = spawn_quiet(sweep_args(killed));
    int status = 0;
    bool exited = false;
    if (rounds % 4 == 3) {
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(when(rng) / 1.5 * startup_ms));
    } else {
      while (lines() == before && !(exited = waitpid(pid, &status, WNOHANG) == pid))
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      if (!exited) {
        // ... but never past the first line of the next group's results: a round then commits
        // at most one group and a line, whatever the timing (a reference run measured while
        // other tests load the machine overestimates group_ms; CI once finished the sweep
        // after 2 kills that way).
        const auto deadline = std::chrono::steady_clock::now() +
                              std::chrono::duration<double, std::milli>(when(rng) * group_ms);
        const size_t cap = before + kMostLinesPerGroup + 1;
        while (std::chrono::steady_clock::now() < deadline && lines() < cap &&
               !(exited = waitpid(pid, &status, WNOHANG) == pid))
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
    if (exited || waitpid(pid, &status, WNOHANG) == pid) {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      finished = true;
      break;
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) ++kills;
    if (WIFEXITED(status)) finished = WEXITSTATUS(status) == 0;
  }
  if (rounds >= 60) {
    ASSERT_EQ(run_to_end(sweep_args(killed)), 0);
  }
  std::printf("killed %d times in %d rounds\n", kills, rounds);
  EXPECT_GE(kills, 3);
  EXPECT_EQ(by_key(killed), reference);
  ASSERT_EQ(run_to_end(sweep_args(killed)), 0);  // a finished sweep adds nothing
  EXPECT_EQ(read_sweep_results(killed).size(), reference.size());
}

TEST(Sweep, ResultsOfAnotherBackendAreNotMixedIn) {
  // Each line records the backend ("cpu", "cuda-bf16", ...); resuming a file made on another
  // backend (e.g. bf16 results under an f32 sweep) is refused, naming the field.
  const std::string out = temp_path("backend.jsonl");
  std::filesystem::remove(out);
  ASSERT_EQ(run_to_end(sweep_args(out, "1")), 0);
  std::string text = read_text_file(out);
  const std::string cpu = "\"backend\":\"cpu\"";
  const size_t at = text.find(cpu);
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, cpu.size(), "\"backend\":\"cuda-bf16\"");
  write_file_atomic(out, text);
  std::string cmd;
  for (const auto& a : sweep_args(out, "1")) cmd += (cmd.empty() ? "" : " ") + a;
  const auto r = layerlab::testing::run_cli(cmd.substr(std::string(LAYERLAB_CLI).size() + 1));
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("backend = \"cuda-bf16\", this sweep has \"cpu\""), std::string::npos) << r.out;
}

TEST(Sweep, TornLastLineIsRepairedAndRecomputed) {
  const std::string ref = temp_path("ref2.jsonl"), torn = temp_path("torn.jsonl");
  std::filesystem::remove(ref);
  ASSERT_EQ(run_to_end(sweep_args(ref)), 0);
  std::ifstream in(ref);
  std::string text, line;
  for (int i = 0; i < 5 && std::getline(in, line); ++i) text += line + "\n";
  std::getline(in, line);
  text += line.substr(0, line.size() / 2);  // a write cut short
  write_file_atomic(torn, text);
  EXPECT_EQ(read_sweep_results(torn).size(), 5u);
  ASSERT_EQ(run_to_end(sweep_args(torn)), 0);
  EXPECT_EQ(by_key(torn), by_key(ref));
  // A different setup (here --limit) must not be mixed into the same file.
  EXPECT_EQ(run_to_end(sweep_args(torn, "3")), 1);
}

TEST(Sweep, NormalisationByHand) {
  // task a: chance 0.25, full 0.75; task b: chance 0.5, full 0.9; perplexity: no chance, ignored.
  auto rec = [](std::string task, std::string v, int n, double score, json chance) {
    return json{{"task", task}, {"variant", v}, {"n", n}, {"seed", 0}, {"score", score}, {"chance", chance}};
  };
  const std::vector<json> rs = {rec("a", "full", 0, 0.75, 0.25), rec("b", "full", 0, 0.9, 0.5),
                                rec("p", "full", 0, 9.0, nullptr), rec("a", "skip", 2, 0.5, 0.25),
                                rec("b", "skip", 2, 0.6, 0.5),     rec("p", "skip", 2, 12.0, nullptr)};
  const auto rows = normalise_results(rs);
  ASSERT_EQ(rows.size(), 2u);
  const NormalisedRow& skip = rows[1].variant == "skip" ? rows[1] : rows[0];
  EXPECT_NEAR(skip.per_task.at("a"), (0.5 - 0.25) / (0.75 - 0.25), 1e-12);  // 0.5
  EXPECT_NEAR(skip.per_task.at("b"), (0.6 - 0.5) / (0.9 - 0.5), 1e-12);     // 0.25
  EXPECT_EQ(skip.per_task.count("p"), 0u);
  EXPECT_NEAR(skip.median, 0.375, 1e-12);  // median of {0.5, 0.25}
  EXPECT_DOUBLE_EQ(median_of({3, 1, 2}), 2.0);
}

TEST(Sweep, PlotsHaveTitlesAxesAndLegends) {
  const std::string ref = temp_path("ref3.jsonl");
  std::filesystem::remove(ref);
  ASSERT_EQ(run_to_end(sweep_args(ref, "3")), 0);  // 3 items: the full model is above chance on winogrande
  const std::string dir = temp_path("plots");
  const auto files = plot_sweep(read_sweep_results(ref), dir);
  ASSERT_EQ(files.size(), 4u);  // three tasks + the normalised median chart
  const std::string wino = read_text_file(dir + "/winogrande.svg");
  for (const char* s : {"<svg", "winogrande: acc vs N", ">N: layers kept unchanged at each end", "full model", "chance", "shuffle (mean of 2 seeds)", "skip", "</svg>"})
    EXPECT_NE(wino.find(s), std::string::npos) << s;
  const std::string med = read_text_file(dir + "/normalised_median.svg");
  EXPECT_NE(med.find("Median normalised score"), std::string::npos);
  const std::string heat = similarity_heatmap_svg(json{{"labels", {"emb", "1:L0"}}, {"matrix", {{1.0, 0.5}, {0.5, 1.0}}}}, "sim", "x");
  EXPECT_NE(heat.find("1:L0"), std::string::npos);
  EXPECT_THROW(similarity_heatmap_svg(json{{"labels", {"a"}}, {"matrix", {{1.0, 0.5}}}}, "sim", "bad.json"), Error);
  const auto ticks = nice_ticks(0.0, 1.0);
  EXPECT_EQ(ticks.front(), 0.0);
  EXPECT_EQ(ticks.back(), 1.0);
}

// Regression: a number that overflows a double (1e999) made `sweep --summary` exit with an
// internal error; it is now an error naming the file and line.
TEST(SweepResultsFile, OverflowingNumberIsAnErrorNamingTheLine) {
  const std::string path = (std::filesystem::temp_directory_path() / ("layerlab_1e999_" + std::to_string(::getpid()) + ".jsonl")).string();
  std::ofstream(path) << "{\"task\": \"lambada\", \"variant\": \"full\", \"n\": 0, \"score\": 1e999}\n";
  try {
    read_sweep_results(path);
    ADD_FAILURE() << "accepted 1e999";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":1"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}
