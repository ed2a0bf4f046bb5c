// eval's per-item records (issue 17): --log-samples writes one line per item whose fields agree
// with the reported metrics; a run stopped after k items (--stop-after-items, or SIGKILL) and
// resumed with --resume reports exactly the numbers of an uninterrupted run; progress counts
// tokens. Through the built CLI on the golden tiny GPT-2 (6 layers, context 256).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_run.h"
#include "golden.h"

namespace layerlab::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kModel = shared_dir() + "/golden/gpt2-tiny";
const std::string kData = LAYERLAB_EVAL_DATA_DIR;

class EvalRecords : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("layerlab_eval_records_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string file(const std::string& name, const std::string& content) const {
    std::ofstream(path(name), std::ios::binary | std::ios::trunc) << content;
    return path(name);
  }
  // 70 LAMBADA-format items: chunks of 64 and 6.
  std::string lambada70() const {
    std::string s;
    for (int i = 0; i < 70; ++i)
      s += "{\"text\": \"item " + std::to_string(i) + " the cat sat on the mat and looked at the " +
           (i % 2 ? "dog" : "bird") + "\"}\n";
    return file("lambada70.jsonl", s);
  }
  // Documents of different lengths (perplexity: one chunk per document).
  std::string docs6(int n = 6) const {
    std::string s;
    for (int i = 0; i < n; ++i) {
      std::string text;
      for (int k = 0; k <= i * 3; ++k) text += "def f" + std::to_string(k) + "(x):\\n    return x + " + std::to_string(k) + "\\n";
      s += "{\"text\": \"" + text + "\"}\n";
    }
    return file("docs" + std::to_string(n) + ".jsonl", s);
  }
  static std::vector<json> lines(const std::string& p) {
    std::ifstream in(p);
    std::vector<json> out;
    for (std::string l; std::getline(in, l);) out.push_back(json::parse(l));
    return out;
  }
  static json metrics(const std::string& out_json) { return json::parse(std::ifstream(out_json))["metrics"]; }
  fs::path dir_;
};

int argmax(const std::vector<double>& v) { return int(std::max_element(v.begin(), v.end()) - v.begin()); }

TEST_F(EvalRecords, LogSamplesAgreeWithTheMetrics) {
  const std::string samples = path("hs.jsonl"), out = path("hs.json");
  const CliRun r = run_cli("eval --model " + kModel + " --task hellaswag --data " + kData +
                           "/hellaswag.jsonl --log-samples " + samples + " --out " + out);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto ls = lines(samples);
  ASSERT_EQ(ls.size(), 4u);  // setup + 3 items
  EXPECT_EQ(ls[0]["setup"]["task"], "hellaswag");
  double acc = 0, acc_norm = 0;
  for (size_t i = 1; i < ls.size(); ++i) {
    const json& s = ls[i];
    EXPECT_EQ(s["task"], "hellaswag");
    EXPECT_EQ(s["doc_id"], int(i - 1));
    ASSERT_EQ(s["requests"].size(), 4u);
    EXPECT_EQ(s["requests"][0]["continuation"].get<std::string>()[0], ' ');  // lm-eval's ' ' + ending
    const auto ll = s["loglikelihoods"].get<std::vector<double>>();
    const auto len = s["choice_lengths"].get<std::vector<double>>();
    std::vector<double> norm(ll.size());
    for (size_t c = 0; c < ll.size(); ++c) norm[c] = ll[c] / len[c];
    EXPECT_EQ(s["pred"], argmax(ll));
    EXPECT_EQ(s["pred_norm"], argmax(norm));
    EXPECT_EQ(s["acc"], argmax(ll) == s["gold"].get<int>() ? 1 : 0);
    EXPECT_EQ(s["acc_norm"], argmax(norm) == s["gold"].get<int>() ? 1 : 0);
    acc += s["acc"].get<double>() / 3;
    acc_norm += s["acc_norm"].get<double>() / 3;
  }
  const json m = metrics(out);
  EXPECT_NEAR(m["acc"]["value"].get<double>(), acc, 1e-12);
  EXPECT_NEAR(m["acc_norm"]["value"].get<double>(), acc_norm, 1e-12);
}

// Perplexity: each line holds the document's tokens (as `tokenize` gives them) and the
// log-likelihood sum; their totals give the reported nll_per_token.
TEST_F(EvalRecords, PerplexitySamplesHoldTokensAndLoglikelihood) {
  const std::string text = file("doc.txt", "import os\nprint(os.getcwd())\n");
  const std::string samples = path("ppl.jsonl"), out = path("ppl.json");
  const CliRun r = run_cli("eval --model " + kModel + " --task perplexity --data " + text + " --log-samples " +
                           samples + " --out " + out);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto ls = lines(samples);
  ASSERT_EQ(ls.size(), 2u);
  const CliRun tok = run_cli("tokenize --model " + kModel + " --file " + text);
  std::istringstream first(tok.out.substr(0, tok.out.find('\n')));
  std::vector<int> ids;
  for (int id; first >> id;) ids.push_back(id);
  EXPECT_EQ(ls[1]["tokens"].get<std::vector<int>>(), ids);
  const double ll = ls[1]["loglikelihood"].get<double>();
  EXPECT_NEAR(-ll / ids.size(), metrics(out)["nll_per_token"]["value"].get<double>(), 1e-9);
}

TEST_F(EvalRecords, Gsm8kSamplesHoldTheGeneration) {
  const std::string data = file("gsm.jsonl", "{\"question\": \"What is 2 + 3?\", \"answer\": \"2 + 3 = 5\\n#### 5\"}\n");
  const std::string samples = path("gsm_s.jsonl");
  const CliRun r = run_cli("eval --model " + kModel + " --task gsm8k --data " + data +
                           " --num-fewshot 0 --max-gen-tokens 6 --log-samples " + samples);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto ls = lines(samples);
  ASSERT_EQ(ls.size(), 2u);
  EXPECT_EQ(ls[1]["gold"], "5");
  EXPECT_TRUE(ls[1]["generation"].is_string());
  EXPECT_TRUE(ls[1].contains("answer_strict") && ls[1].contains("answer_flexible"));
}

// Stopped after the first chunk of 64 items and resumed: the same --out metrics, and the
// records file holds every item once, in order.
TEST_F(EvalRecords, StopAfterItemsThenResumeEqualsAnUninterruptedRun) {
  const std::string data = lambada70();
  const std::string base = "eval --model " + kModel + " --task lambada_openai --data " + data;
  const CliRun full = run_cli(base + " --out " + path("full.json"));
  ASSERT_EQ(full.status, 0) << full.out;
  const std::string samples = path("s.jsonl");
  const CliRun stop = run_cli(base + " --out " + path("part.json") + " --log-samples " + samples + " --stop-after-items 10");
  ASSERT_EQ(stop.status, 0) << stop.out;
  EXPECT_NE(stop.out.find("stopped after 64 of 70 items"), std::string::npos) << stop.out;
  EXPECT_FALSE(fs::exists(path("part.json")));
  EXPECT_EQ(lines(samples).size(), 65u);
  // A kill during a write leaves a torn line: it is dropped on resume.
  std::ofstream(samples, std::ios::app) << "{\"doc_id\": 64, \"sco";
  const CliRun res = run_cli(base + " --out " + path("part.json") + " --log-samples " + samples + " --resume");
  ASSERT_EQ(res.status, 0) << res.out;
  EXPECT_NE(res.out.find("64 item records already there, resuming"), std::string::npos) << res.out;
  EXPECT_EQ(metrics(path("part.json")), metrics(path("full.json")));
  const auto ls = lines(samples);
  ASSERT_EQ(ls.size(), 71u);
  for (size_t i = 1; i < ls.size(); ++i) EXPECT_EQ(ls[i]["doc_id"], int(i - 1));
}

// mlm counts masked tokens as items and records windows (8 per chunk): the same exactness.
TEST_F(EvalRecords, MlmStopThenResume) {
  const std::string data = docs6(), bert = shared_dir() + "/golden/bert-tiny";
  const std::string base = "eval --model " + bert + " --task mlm --data " + data + " --window 8";
  ASSERT_EQ(run_cli(base + " --out " + path("full.json")).status, 0);
  const CliRun stop = run_cli(base + " --out " + path("m.json") + " --stop-after-items 3");
  ASSERT_EQ(stop.status, 0) << stop.out;
  ASSERT_NE(stop.out.find("stopped after"), std::string::npos) << stop.out;
  const CliRun res = run_cli(base + " --out " + path("m.json") + " --resume");
  ASSERT_EQ(res.status, 0) << res.out;
  EXPECT_NE(res.out.find("8 item records already there"), std::string::npos) << res.out;
  EXPECT_EQ(metrics(path("m.json")), metrics(path("full.json")));
}

// Resume refuses a records file of another setup, naming the field.
TEST_F(EvalRecords, ResumeRefusesAnotherSetup) {
  const std::string data = docs6(), out = path("r.json");
  const std::string base = "eval --model " + kModel + " --task perplexity --data " + data + " --out " + out;
  ASSERT_EQ(run_cli(base + " --stop-after-items 2").status, 0);
  const CliRun r = run_cli(base + " --resume --window 64");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("was recorded with window 0, this run has 64"), std::string::npos) << r.out;
  const CliRun none = run_cli("eval --model " + kModel + " --task perplexity --data " + data + " --resume");
  EXPECT_EQ(none.status, 1);
  EXPECT_NE(none.out.find("--resume: needs a records file"), std::string::npos) << none.out;
}

// A run killed with SIGKILL at some moment keeps what it recorded (--out's FILE.items.jsonl);
// resuming gives the numbers of an uninterrupted run.
TEST_F(EvalRecords, KilledRunResumes) {
  const std::string data = docs6(10);  // the kill comes after 2 of 10 documents, long before the end
  const std::string base = "eval --model " + kModel + " --task perplexity --data " + data + " --window 16";
  ASSERT_EQ(run_cli(base + " --out " + path("full.json")).status, 0);
  const std::string out = path("k.json"), records = out + ".items.jsonl";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string cmd = std::string("exec ") + LAYERLAB_CLI + " " + base + " --out " + out + " >/dev/null 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Kill once two documents are recorded (setup line + 2).
  for (int waited = 0; waited < 20000; waited += 5) {
    if (fs::exists(records) && lines(records).size() >= 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  ASSERT_TRUE(fs::exists(records));
  const CliRun res = run_cli(base + " --out " + out + " --resume");
  ASSERT_EQ(res.status, 0) << res.out;
  EXPECT_EQ(metrics(out), metrics(path("full.json")));
  EXPECT_FALSE(fs::exists(records));  // removed once --out holds the metrics
}

// sweep --log-samples DIR: one file per configuration; the baseline's lines are eval's.
TEST_F(EvalRecords, SweepLogSamplesOneFilePerConfiguration) {
  const std::string data = docs6();
  fs::create_directories(path("samples"));
  const CliRun r = run_cli("sweep --model " + kModel + " --variants skip --n 1 --tasks perplexity --data perplexity=" +
                           data + " --window 16 --quiet --out " + path("r.jsonl") + " --log-samples " + path("samples"));
  ASSERT_EQ(r.status, 0) << r.out;
  const auto full = lines(path("samples/perplexity.full.n0.seed0.jsonl"));
  const auto skip = lines(path("samples/perplexity.skip.n1.seed0.jsonl"));
  ASSERT_EQ(full.size(), 7u);
  ASSERT_EQ(skip.size(), 7u);
  EXPECT_EQ(skip[0]["setup"]["plan"], "0,5");
  const std::string ev = path("ev.jsonl");
  ASSERT_EQ(run_cli("eval --model " + kModel + " --task perplexity --data " + data + " --window 16 --log-samples " + ev).status, 0);
  const auto e = lines(ev);
  for (size_t i = 1; i < e.size(); ++i) {
    EXPECT_EQ(full[i]["tokens"], e[i]["tokens"]);
    EXPECT_NEAR(full[i]["loglikelihood"].get<double>(), e[i]["loglikelihood"].get<double>(), 1e-4);
    EXPECT_NE(skip[i]["loglikelihood"], e[i]["loglikelihood"]);
  }
  const CliRun bad = run_cli("sweep --model " + kModel + " --variants skip --n 1 --tasks perplexity --data perplexity=" +
                             data + " --out " + path("r2.jsonl") + " --log-samples " + path("missing"));
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.out.find("--log-samples: '"), std::string::npos) << bad.out;
}

// Progress counts tokens: the final line's total is the documents' token count.
TEST_F(EvalRecords, ProgressCountsTokens) {
  const std::string data = docs6();
  const CliRun r = run_cli("eval --model " + kModel + " --task perplexity --data " + data);
  ASSERT_EQ(r.status, 0) << r.out;
  const size_t at = r.out.find(" tokens (6 items)");
  ASSERT_NE(at, std::string::npos) << r.out;
  const size_t slash = r.out.rfind('/', at);
  const long total = std::stol(r.out.substr(slash + 1, at - slash - 1));
  const size_t tok_at = r.out.find("items, ", r.out.find("task perplexity"));
  EXPECT_EQ(std::stol(r.out.substr(tok_at + 7)), total) << r.out;  // "6 items, N tokens": one token run per scored one
}

}  // namespace
}  // namespace layerlab::testing
