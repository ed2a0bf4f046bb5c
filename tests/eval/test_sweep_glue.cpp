// GLUE sweeps through the real CLI (LAYERLAB_CLI) on the golden bert-tiny and a few records of
// ../shared/data/glue (head-only, one epoch: seconds): one line per configuration, equal to
// `layerlab finetune` of the same plan; killed and restarted, the same lines exactly once; a
// stopped configuration continues from its last epoch; changed fine-tuning options are
// refused; the GLUE score (mean over tasks) in --summary and `layerlab plot`.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "cli_run.h"
#include "golden.h"
#include "layerlab/fs.h"
#include "layerlab/sweep.h"
#include "util/json_read.h"

extern char** environ;

using namespace layerlab;
using namespace layerlab::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string bert() { return shared_dir() + "/golden/bert-tiny"; }
std::string glue_dir() { return shared_dir() + "/data/glue"; }

std::string temp_path(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/layerlab_sweep_glue_" + std::to_string(::getpid());
  fs::create_directories(dir);
  return dir + "/" + name;
}

void clear(const std::string& out) {
  fs::remove(out);
  fs::remove_all(out + ".runs");
}

// The fine-tuning options every run here shares (with `extra` appended).
std::vector<std::string> finetune_opts(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> a = {"--head-only", "--epochs", "1", "--lr", "1e-3", "--batch", "16", "--max-length", "64",
                                "--limit-train", "64", "--limit-dev", "32", "--seed", "3", "--threads", "1"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// 2 tasks x (full + skip at N = 1, 2 + shuffle at N = 1, 2 with seeds 0, 1) = 14 configurations.
std::vector<std::string> sweep_args(const std::string& out, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> a = {LAYERLAB_CLI, "sweep", "--model", bert(), "--tasks", "glue:rte,glue:cola", "--data-dir",
                                glue_dir(), "--variants", "skip,shuffle", "--seeds", "2", "--n", "1..2", "--out", out,
                                "--quiet"};
  const auto f = finetune_opts(extra);
  a.insert(a.end(), f.begin(), f.end());
  return a;
}

std::string command(const std::vector<std::string>& args) {
  std::string cmd;
  for (size_t i = 1; i < args.size(); ++i) cmd += (i > 1 ? " " : "") + args[i];
  return cmd;
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

}  // namespace

TEST(GlueSweep, OneLinePerConfigurationEqualToFinetune) {
  const std::string out = temp_path("ref.jsonl");
  clear(out);
  const auto r = run_cli(command(sweep_args(out)));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("14 configurations: 0 already"), std::string::npos) << r.out;
  const auto lines = by_key(out);
  ASSERT_EQ(lines.size(), 14u);
  for (const auto& [k, line] : lines) {
    EXPECT_EQ(line["primary"], "task_score") << k;
    EXPECT_TRUE(line["score"].is_number()) << k;
    EXPECT_EQ(line["items"], 32) << k;
    EXPECT_EQ(line["train_examples"], 64) << k;
    EXPECT_EQ(line["finetune"]["lr"], 1e-3) << k;
    EXPECT_EQ(line["finetune"]["head_only"], true) << k;
    EXPECT_EQ(line["finetune"]["seed"], 3) << k;
    EXPECT_EQ(line["finetune"]["limit_dev"], 32) << k;
  }
  EXPECT_TRUE(lines.at("glue:cola/full/N=0/seed=0")["metrics"].contains("mcc"));
  EXPECT_EQ(lines.at("glue:rte/skip/N=2/seed=0")["plan"], "0,1,4,5");

  // The same configuration by `layerlab finetune`: the same score (one implementation).
  const std::string ft = temp_path("ft_rte_skip2");
  fs::create_directories(ft);
  std::vector<std::string> a = {LAYERLAB_CLI, "finetune", "--model", bert(), "--task", "rte", "--data-dir", glue_dir(),
                                "--variant", "skip", "--n", "2", "--out", ft};
  const auto f = finetune_opts();
  a.insert(a.end(), f.begin(), f.end());
  const auto fr = run_cli(command(a));
  ASSERT_EQ(fr.status, 0) << fr.out;
  const json res = read_json_file(ft + "/results.json");
  EXPECT_EQ(res["task_score"].get<double>(), lines.at("glue:rte/skip/N=2/seed=0")["score"].get<double>());
  // The sweep keeps each configuration's results.json, not its (model-sized) checkpoint.
  EXPECT_TRUE(file_exists(out + ".runs/rte.skip.n2.s0/results.json"));
  EXPECT_FALSE(file_exists(out + ".runs/rte.skip.n2.s0/checkpoint.safetensors"));

  // A rerun has nothing left to do; a changed fine-tuning option is refused, naming it.
  const auto again = run_cli(command(sweep_args(out)));
  EXPECT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("14 configurations: 14 already"), std::string::npos) << again.out;
  for (const auto& [flag, value, field] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"--lr", "2e-3", "lr = 0.001, this sweep has 0.002"},
           {"--limit-train", "48", "limit_train = 64, this sweep has 48"},
           {"--epochs", "2", "epochs = 1, this sweep has 2"}}) {
    auto changed = sweep_args(out);
    for (size_t i = 0; i + 1 < changed.size(); ++i)
      if (changed[i] == flag) changed[i + 1] = value;
    const auto refused = run_cli(command(changed));
    EXPECT_NE(refused.status, 0) << flag << ": " << refused.out;
    EXPECT_NE(refused.out.find("finetune." + field), std::string::npos) << refused.out;
    EXPECT_NE(refused.out.find(field), std::string::npos) << refused.out;
    EXPECT_NE(refused.out.find("use another --out"), std::string::npos) << refused.out;
  }
  EXPECT_EQ(by_key(out).size(), 14u);

  // --summary: the GLUE score is the mean of the two task scores of each configuration.
  const auto sum = run_cli("sweep --summary " + out);
  ASSERT_EQ(sum.status, 0) << sum.out;
  EXPECT_NE(sum.out.find("GLUE: task scores and their unweighted mean"), std::string::npos) << sum.out;
  const double mean = (lines.at("glue:rte/skip/N=1/seed=0")["score"].get<double>() +
                       lines.at("glue:cola/skip/N=1/seed=0")["score"].get<double>()) / 2;
  char row[64];
  std::snprintf(row, sizeof row, "%11.4f\n", mean);
  const size_t skip1 = sum.out.find("skip                1     0", sum.out.find("GLUE:"));
  ASSERT_NE(skip1, std::string::npos) << sum.out;
  EXPECT_EQ(sum.out.substr(sum.out.find('\n', skip1) - 11, 12), row) << sum.out;

  // layerlab plot: a panel per task and the GLUE panel.
  const std::string figs = temp_path("figs");
  fs::remove_all(figs);
  const auto plot = run_cli("plot " + out + " --out " + figs);
  ASSERT_EQ(plot.status, 0) << plot.out;
  for (const char* f : {"glue.svg", "glue_rte.svg", "glue_cola.svg"}) EXPECT_TRUE(file_exists(figs + "/" + f)) << f;
  const std::string svg = read_text_file(figs + "/glue.svg");
  EXPECT_NE(svg.find("GLUE score vs N"), std::string::npos);
  EXPECT_NE(svg.find("full model"), std::string::npos);

  // An evaluation sweep does not write into a GLUE results file.
  const auto eval = run_cli("sweep --model " + shared_dir() + "/golden/gpt2-tiny --tasks lambada_openai --data lambada_openai=" +
                            std::string(LAYERLAB_EVAL_DATA_DIR) + "/lambada_openai.jsonl --n 1 --out " + out + " --quiet");
  EXPECT_NE(eval.status, 0) << eval.out;
  EXPECT_NE(eval.out.find("results of a GLUE fine-tuning sweep"), std::string::npos) << eval.out;
}

TEST(GlueSweep, KilledAndRestartedEndsEqualToAnUninterruptedRun) {
  const std::string ref = temp_path("ref_kill.jsonl"), killed = temp_path("killed.jsonl");
  clear(ref);
  clear(killed);
  ASSERT_EQ(run_cli(command(sweep_args(ref))).status, 0);
  const auto reference = by_key(ref);
  ASSERT_EQ(reference.size(), 14u);
  // Each round is killed at a random moment after it has appended a line (so every round
  // makes progress): mid-fine-tuning, mid-append or between configurations.
  std::mt19937 rng(20261203);
  std::uniform_int_distribution<int> delay_ms(0, 60);
  auto lines = [&] { return file_exists(killed) ? read_sweep_results(killed).size() : size_t(0); };
  int kills = 0;
  for (int round = 0; round < 30; ++round) {
    const size_t before = lines();
    const pid_t pid = spawn_quiet(sweep_args(killed));
    int status = 0;
    bool exited = false;
    while (lines() == before && !(exited = waitpid(pid, &status, WNOHANG) == pid))
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!exited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
      exited = waitpid(pid, &status, WNOHANG) == pid;
    }
    if (exited) {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      break;
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    kills += WIFSIGNALED(status);
  }
  EXPECT_GE(kills, 2);
  const auto got = by_key(killed);  // fails on a duplicate
  ASSERT_EQ(got.size(), reference.size());
  for (const auto& [k, r] : reference) {
    ASSERT_TRUE(got.count(k)) << k;
    EXPECT_EQ(got.at(k)["metrics"], r["metrics"]) << k;
    EXPECT_EQ(got.at(k)["plan"], r["plan"]) << k;
  }
}

TEST(GlueSweep, StoppedConfigurationContinuesFromItsLastEpoch) {
  // Two epochs; the first configuration's folder holds a run stopped after epoch 1 (as a kill
  // between epochs leaves it): the sweep continues it and ends as the uninterrupted sweep.
  auto args = [](const std::string& out) {
    return std::vector<std::string>{LAYERLAB_CLI, "sweep", "--model", bert(), "--tasks", "glue:rte", "--data-dir",
                                    glue_dir(), "--variants", "full", "--out", out, "--head-only", "--epochs", "2",
                                    "--lr", "1e-3", "--limit-train", "64", "--limit-dev", "32", "--threads", "1"};
  };
  const std::string ref = temp_path("ref_epochs.jsonl"), stopped = temp_path("stopped.jsonl");
  clear(ref);
  clear(stopped);
  ASSERT_EQ(run_cli(command(args(ref))).status, 0);
  const std::string dir = stopped + ".runs/rte.full.n0.s0";
  fs::create_directories(dir);
  fs::copy_file(ref + ".runs/rte.full.n0.s0/sweep_config.json", dir + "/sweep_config.json");
  const auto ft = run_cli("finetune --model " + bert() + " --task rte --data-dir " + glue_dir() +
                          " --head-only --epochs 2 --lr 1e-3 --limit-train 64 --limit-dev 32 --threads 1 --seed 42"
                          " --stop-after 1 --out " + dir);
  ASSERT_EQ(ft.status, 0) << ft.out;
  const auto r = run_cli(command(args(stopped)));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("continuing its stopped run"), std::string::npos) << r.out;
  EXPECT_EQ(by_key(stopped).at("glue:rte/full/N=0/seed=0")["metrics"], by_key(ref).at("glue:rte/full/N=0/seed=0")["metrics"]);
  EXPECT_EQ(read_json_file(dir + "/results.json")["history"].size(), 2u);
}

TEST(GlueSweep, OptionChecks) {
  const std::string out = temp_path("checks.jsonl");
  clear(out);
  const std::string base = "sweep --model " + bert() + " --data-dir " + glue_dir() + " --out " + out + " ";
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"--tasks glue:qnli", "glue:qnli has no training set"},
           {"--tasks glue:sst2,lambada_openai", "'lambada_openai' is not a glue: task"},
           {"--tasks glue:mnli", "mnli"},
           {"--tasks glue:sst2 --limit 3", "--limit: does not apply to glue: tasks"},
           {"--tasks lambada_openai --epochs 2", "--epochs: applies only to glue: tasks"},
       }) {
    const auto r = run_cli(base + c.args);
    EXPECT_NE(r.status, 0) << c.args << ": " << r.out;
    EXPECT_NE(r.out.find(c.message), std::string::npos) << c.args << ": " << r.out;
  }
  EXPECT_FALSE(file_exists(out));
  // glue:all: every task with a train.jsonl (not qnli), the baseline only here.
  const auto all = run_cli(base + "--tasks glue:all --variants full --head-only --epochs 1 --limit-train 32 --limit-dev 16 "
                                  "--threads 1 --quiet");
  ASSERT_EQ(all.status, 0) << all.out;
  std::set<std::string> tasks;
  for (const auto& [k, r] : by_key(out)) tasks.insert(r["task"].get<std::string>());
  EXPECT_EQ(tasks, (std::set<std::string>{"glue:cola", "glue:mrpc", "glue:rte", "glue:sst2", "glue:stsb"}));
}
