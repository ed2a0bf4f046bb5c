#pragma once
// A progress bar with rate and ETA on stderr, redrawn at most 10 times a second. When stderr is
// not a terminal (nohup, SLURM, CI logs) it prints one line every 30 s instead (the interval
// from LAYERLAB_PROGRESS_SECONDS, 0 for none), then a final summary line. Count the unit the
// time is spent on (eval and sweep count tokens, not documents of uneven length), so the ETA
// holds; `detail` can say the count people think in ("12/40 documents").
#include <chrono>
#include <cstdint>
#include <string>

namespace layerlab {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "items");
  ~Progress();
  void add(int64_t n = 1);
  void set(int64_t done);
  // n units done by an earlier run (a resume): counted as done, left out of the rate and ETA.
  void skip(int64_t n);
  void set_detail(std::string detail);
  void finish();

 private:
  void draw(bool final);
  std::string label_, unit_, detail_;
  int64_t total_, done_ = 0, skipped_ = 0;
  bool tty_, finished_ = false;
  double log_interval_s_ = 30;  // off a terminal
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace layerlab
