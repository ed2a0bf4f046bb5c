#include "layerlab/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace layerlab {

namespace {
std::string format_seconds(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
  return buf;
}
}  // namespace

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(::isatty(2)),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  if (const char* e = std::getenv("LAYERLAB_PROGRESS_SECONDS")) {
    char* end = nullptr;
    const double v = std::strtod(e, &end);
    if (end != e && *end == '\0' && v >= 0) log_interval_s_ = v;  // otherwise the default
  }
}

Progress::~Progress() { finish(); }

void Progress::add(int64_t n) { set(done_ + n); }

void Progress::set(int64_t done) {
  done_ = done;
  const auto now = std::chrono::steady_clock::now();
  if (tty_ && (now - last_draw_ > std::chrono::milliseconds(100) || done_ >= total_)) {
    last_draw_ = now;
    draw(false);
  } else if (!tty_ && log_interval_s_ > 0 && std::chrono::duration<double>(now - last_draw_).count() >= log_interval_s_ &&
             done_ < total_) {
    last_draw_ = now;
    draw(false);  // one whole line, so a log shows the run is alive and when it will end
  }
}

void Progress::skip(int64_t n) {
  skipped_ += n;
  done_ += n;
}

void Progress::set_detail(std::string detail) { detail_ = std::move(detail); }

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? (done_ - skipped_) / elapsed : 0;
  const int width = 30;
  const double frac = total_ > 0 ? std::min(1.0, double(done_) / total_) : 1.0;
  std::string bar(int(frac * width), '#');
  bar.resize(width, '.');
  const std::string eta = rate > 0 && total_ > done_ ? format_seconds((total_ - done_) / rate) : "-";
  const std::string detail = detail_.empty() ? "" : " (" + detail_ + ")";
  std::fprintf(stderr, "%s%s [%s] %lld/%lld %s%s, %.1f %s/s, %s %s%s", tty_ ? "\r" : "", label_.c_str(), bar.c_str(),
               static_cast<long long>(done_), static_cast<long long>(total_), unit_.c_str(), detail.c_str(), rate,
               unit_.c_str(),
               final ? "elapsed" : "ETA", final ? format_seconds(elapsed).c_str() : eta.c_str(),
               final || !tty_ ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace layerlab
