// The text form of plans: a tiny recursive-descent parser with positioned errors, and printing.
#include <cctype>
#include <cstdlib>

#include "layerlab/error.h"
#include "layerlab/plan.h"

namespace layerlab {

namespace {

class PlanParser {
 public:
  explicit PlanParser(const std::string& text) : s_(text) {}

  Plan parse() {
    Plan plan;
    skip_space();
    if (s_.compare(pos_, 4, "full") == 0) fail_at(pos_, "'full' needs the model's layer count; use --variant full");
    if (at_end()) fail_at(pos_, "empty plan");
    while (true) {
      parse_step(plan);
      skip_space();
      if (at_end()) break;
      expect(',');
    }
    return plan;
  }

 private:
  [[noreturn]] void fail_at(size_t pos, const std::string& what) const {
    fail("plan '" + s_ + "'", "at position " + std::to_string(pos + 1) + ": " + what);
  }
  // Sizes are checked before anything is expanded, so a few bytes of text cannot ask for
  // gigabytes of steps.
  void check_size(size_t entries, size_t at) const {
    if (entries > kMaxPlanEntries)
      fail_at(at, "plan would have " + std::to_string(entries) + " steps or group members; at most " +
                      std::to_string(kMaxPlanEntries) + " are allowed");
  }
  bool at_end() const { return pos_ >= s_.size(); }
  void skip_space() {
    while (!at_end() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (at_end() || s_[pos_] != c)
      fail_at(pos_, std::string("expected '") + c + "'" + (at_end() ? " but the plan ended" : ", found '" + std::string(1, s_[pos_]) + "'"));
    ++pos_;
  }
  int number() {
    skip_space();
    const size_t start = pos_;
    long v = 0;
    while (!at_end() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      v = v * 10 + (s_[pos_] - '0');
      if (v > 1000000) fail_at(start, "number too large");
      ++pos_;
    }
    if (pos_ == start) fail_at(start, at_end() ? "expected a layer number but the plan ended"
                                               : "expected a layer number, found '" + std::string(1, s_[pos_]) + "'");
    return static_cast<int>(v);
  }
  bool peek(char c) {
    skip_space();
    return !at_end() && s_[pos_] == c;
  }
  // `a` or `a-b` (either direction): appended to out.
  void range(std::vector<int>& out) {
    skip_space();
    const size_t a_pos = pos_;
    const int a = number();
    if (peek('-')) {
      ++pos_;
      const int b = number();
      check_size(out.size() + static_cast<size_t>(std::abs(b - a)) + 1, a_pos);
      for (int i = a; a <= b ? i <= b : i >= b; i += a <= b ? 1 : -1) out.push_back(i);
    } else {
      out.push_back(a);
    }
  }
  int repeat_count() {
    if (!peek('x')) return 1;
    ++pos_;
    const size_t at = pos_;
    const int k = number();
    if (k < 1) fail_at(at, "repeat count must be at least 1");
    return k;
  }
  void parse_step(Plan& plan) {
    if (peek('[')) {
      const size_t open = pos_++;
      PlanStep step;
      if (peek(']')) fail_at(open, "empty parallel group");
      while (true) {
        range(step.layers);
        if (peek(']')) break;
        expect(',');
      }
      ++pos_;
      step.iterations = repeat_count();
      plan.steps.push_back(step);
      return;
    }
    std::vector<int> layers;
    const size_t start = pos_;
    range(layers);
    const int k = repeat_count();
    check_size(plan.steps.size() + layers.size() * static_cast<size_t>(k), start);
    for (int r = 0; r < k; ++r)
      for (int l : layers) plan.steps.push_back({{l}, 1});
  }

  const std::string& s_;
  size_t pos_ = 0;
};

}  // namespace

Plan parse_plan_text(const std::string& text) { return PlanParser(text).parse(); }

std::string plan_to_text(const Plan& plan) {
  std::string out;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const PlanStep& s = plan.steps[i];
    if (i) out += ",";
    if (!s.is_group()) {
      // Runs of 3+ single steps going up or down by one print as a range: 0,1,2,3 -> 0-3.
      size_t e = i;
      const int dir = i + 1 < plan.steps.size() && !plan.steps[i + 1].is_group()
                          ? plan.steps[i + 1].layers[0] - s.layers[0] : 0;
      if (dir == 1 || dir == -1)
        while (e + 1 < plan.steps.size() && !plan.steps[e + 1].is_group() &&
               plan.steps[e + 1].layers[0] == plan.steps[e].layers[0] + dir)
          ++e;
      out += std::to_string(s.layers[0]);
      if (e >= i + 2) {
        out += "-" + std::to_string(plan.steps[e].layers[0]);
        i = e;
      }
      continue;
    }
    // Runs of consecutive layers (3 or more) print as ranges: [4,5,6,7] -> [4-7].
    out += "[";
    for (size_t j = 0; j < s.layers.size();) {
      size_t e = j;
      while (e + 1 < s.layers.size() && s.layers[e + 1] == s.layers[e] + 1) ++e;
      out += (j ? "," : "") + std::to_string(s.layers[j]);
      if (e >= j + 2) {
        out += "-" + std::to_string(s.layers[e]);
        j = e + 1;
      } else {
        ++j;
      }
    }
    out += "]";
    if (s.iterations > 1) out += "x" + std::to_string(s.iterations);
  }
  return out;
}

}  // namespace layerlab
