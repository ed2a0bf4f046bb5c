// Progress off a terminal (src/util/progress.cpp): a log (nohup, SLURM, CI) gets whole lines at
// an interval, with the count and an ETA, then the final line; never carriage returns.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <thread>

#include "layerlab/fs.h"
#include "layerlab/progress.h"

namespace layerlab {
namespace {

// Runs `body` with stderr sent to a file (not a terminal) and returns what it wrote.
template <class Fn>
std::string stderr_of(Fn body) {
  const std::string path = ::testing::TempDir() + "/progress_" + std::to_string(::getpid()) + ".log";
  std::fflush(stderr);
  const int saved = ::dup(2);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::dup2(fd, 2);
  ::close(fd);
  body();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  const std::string out = read_text_file(path);
  std::remove(path.c_str());
  return out;
}

int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// Regression: off a terminal a long run printed nothing until it ended.
TEST(Progress, PeriodicLinesWhenStderrIsNotATerminal) {
  ::setenv("LAYERLAB_PROGRESS_SECONDS", "0.001", 1);
  const std::string log = stderr_of([] {
    Progress p("scoring", 4, "items");
    for (int i = 0; i < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      p.add();
    }
    p.add();
    p.finish();
  });
  ::unsetenv("LAYERLAB_PROGRESS_SECONDS");
  EXPECT_EQ(log.find('\r'), std::string::npos) << log;
  EXPECT_EQ(count(log, "ETA"), 3) << log;        // after items 1, 2 and 3 (not after the last)
  EXPECT_EQ(count(log, "elapsed"), 1) << log;    // the final line
  EXPECT_EQ(count(log, "\n"), 4) << log;         // every line whole
  EXPECT_NE(log.find("scoring [#######"), std::string::npos) << log;
  EXPECT_NE(log.find("1/4 items"), std::string::npos) << log;
}

TEST(Progress, IntervalZeroKeepsOnlyTheFinalLine) {
  ::setenv("LAYERLAB_PROGRESS_SECONDS", "0", 1);
  const std::string log = stderr_of([] {
    Progress p("x", 3);
    for (int i = 0; i < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      p.add();
    }
  });
  ::unsetenv("LAYERLAB_PROGRESS_SECONDS");
  EXPECT_EQ(count(log, "\n"), 1) << log;
  EXPECT_EQ(count(log, "elapsed"), 1) << log;
}

// A resume's units done before (skip) count as done but not in the rate, so the ETA is that of
// the remaining work; the detail ("3 items") shows beside the count.
TEST(Progress, SkippedUnitsStayOutOfTheRate) {
  ::setenv("LAYERLAB_PROGRESS_SECONDS", "0", 1);
  const std::string log = stderr_of([] {
    Progress p("eval", 100010, "tokens");
    p.skip(100000);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    p.set_detail("3 items");
    p.add(5);
    p.finish();
  });
  ::unsetenv("LAYERLAB_PROGRESS_SECONDS");
  const size_t at = log.find("100005/100010 tokens (3 items), ");
  ASSERT_NE(at, std::string::npos) << log;
  const double rate = std::stod(log.substr(at + 32));
  EXPECT_LT(rate, 500) << log;  // 5 tokens in >= 50 ms; counting the skipped ones would give > 100000 / s
}

}  // namespace
}  // namespace layerlab
