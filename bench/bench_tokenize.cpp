// Encode throughput (MB of UTF-8 input per second, one thread) of each tokenizer family on
// real text: the held-out Python sources (data/python-code/val.jsonl) and GSM8K train
// questions + answers (English prose with numbers). No peer runs in the same process: Python
// `tokenizers` / `sentencepiece` are not installed here, so only our numbers are printed.
//   bench_tokenize [SHARED_DIR] [PASSES]
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "layerlab/fs.h"
#include "layerlab/tokenizer.h"

using namespace layerlab;

namespace {

std::vector<std::string> jsonl_texts(const std::string& path, const std::vector<std::string>& fields) {
  std::vector<std::string> out;
  std::istringstream in(read_text_file(path));
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    std::string t;
    for (const auto& f : fields) t += (t.empty() ? "" : "\n") + j.at(f).get<std::string>();
    out.push_back(std::move(t));
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU time of this thread: unlike wall time it does not count time lost to other processes
// on a shared machine.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string shared = argc > 1 ? argv[1] : LAYERLAB_SHARED_DIR;
  const int passes = argc > 2 ? std::max(2, std::atoi(argv[2])) : 5;
  struct Corpus {
    const char* name;
    std::vector<std::string> docs;
    double mb = 0;
  };
  std::vector<Corpus> corpora = {
      {"python-code", jsonl_texts(shared + "/data/python-code/val.jsonl", {"text"})},
      {"gsm8k-train", jsonl_texts(shared + "/data/gsm8k/train.jsonl", {"question", "answer"})},
  };
  for (auto& c : corpora)
    for (const auto& d : c.docs) c.mb += d.size() / 1e6;
  const std::pair<const char*, const char*> families[] = {
      {"gpt2-bpe", "/tokenizers/gpt2"}, {"sentencepiece", "/tokenizers/llama2"}, {"wordpiece", "/tokenizers/bert-uncased"}};

  std::printf("encode throughput, 1 thread, %d passes per cell; cold = first pass (empty BPE word cache), best =\n"
              "fastest pass by wall clock, cpu = fastest pass by this thread's CPU time\n", passes);
  std::printf("%-14s %-12s %6s %9s %10s %10s %10s\n", "family", "corpus", "MB", "tokens", "cold MB/s", "best MB/s",
              "cpu MB/s");
  for (const auto& [family, dir] : families) {
    for (const auto& c : corpora) {
      auto tok = load_tokenizer(shared + dir);  // fresh, so the first pass is cold
      size_t tokens = 0;
      double cold = 0, best = 1e30, best_cpu = 1e30;
      for (int p = 0; p < passes; ++p) {
        tokens = 0;
        const auto t0 = std::chrono::steady_clock::now();
        const double c0 = thread_cpu_seconds();
        for (const auto& d : c.docs) tokens += tok->encode(d).size();
        const double s = seconds_since(t0);
        best_cpu = std::min(best_cpu, thread_cpu_seconds() - c0);
        if (p == 0) cold = s;
        best = std::min(best, s);
      }
      std::printf("%-14s %-12s %6.2f %9zu %10.1f %10.1f %10.1f\n", family, c.name, c.mb, tokens, c.mb / cold, c.mb / best,
                  c.mb / best_cpu);
    }
  }
  std::printf("peer: none (Python tokenizers / sentencepiece are not installed on this machine)\n");
  return 0;
}
