// Seeded mutation fuzzing of every target in fuzz_targets.h, deterministic (fixed seed) so a
// finding reproduces. CI runs it under ASan/UBSan (scripts/test.sh); LAYERLAB_FUZZ_RUNS sets
// the mutations per target (default 2000) for a longer run. An input that makes a target throw
// anything but layerlab::Error is written to $TMPDIR/layerlab-fuzz-finding-<target>-<n>.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fuzz/fuzz_targets.h"
#include "layerlab/error.h"

namespace layerlab::fuzz {
namespace {

// xorshift64*: small, fast, the same sequence on every machine.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
  size_t below(size_t n) { return n ? static_cast<size_t>(next() % n) : 0; }
};

// Tokens that reach the interesting paths of these parsers: bounds, signs, nesting, strings.
const char* const kTokens[] = {"-1", "0", "2147483647", "2147483648", "4294967296", "9223372036854775807",
                               "18446744073709551616", "1e999", "-0", "3.5", "null", "true", "\"", "\\u0000",
                               "[", "]", "{", "}", ",", ":", "[[[[[[[[", "\"\\", "x", "-", "..", "0-999999",
                               "[0-23]x1000", "\"parallel\"", "\"iterations\"", "\"id\"", "\"shape\"",
                               "\"data_offsets\"", "\"dtype\"", "\"F16\"", "\"vocab_size\""};

std::string mutate(std::string s, const std::vector<std::string>& seeds, Rng& r) {
  const int edits = 1 + static_cast<int>(r.below(4));
  for (int e = 0; e < edits; ++e) {
    const size_t at = r.below(s.size() + 1);
    switch (r.below(7)) {
      case 0:
        if (!s.empty()) s[r.below(s.size())] ^= static_cast<char>(1u << r.below(8));
        break;
      case 1:
        if (!s.empty()) s[r.below(s.size())] = static_cast<char>(r.below(256));
        break;
      case 2: s.insert(at, kTokens[r.below(std::size(kTokens))]); break;
      case 3: s.erase(at, r.below(16)); break;
      case 4: s.resize(r.below(s.size() + 1)); break;  // truncation
      case 5:
        if (!s.empty()) {
          const size_t from = r.below(s.size()), len = r.below(std::min<size_t>(64, s.size() - from) + 1);
          s.insert(at, s.substr(from, len));
        }
        break;
      default: {  // splice: a piece of another seed
        const std::string& o = seeds[r.below(seeds.size())];
        if (!o.empty()) {
          const size_t from = r.below(o.size());
          s.insert(at, o.substr(from, r.below(std::min<size_t>(256, o.size() - from) + 1)));
        }
      }
    }
  }
  return s;
}

int runs_per_target() {
  const char* env = std::getenv("LAYERLAB_FUZZ_RUNS");
  const int n = env ? std::atoi(env) : 0;
  return n > 0 ? n : 2000;
}

void save_finding(const Target& t, int n, const std::string& input) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("layerlab-fuzz-finding-" + std::string(t.name) + "-" + std::to_string(n));
  std::ofstream(path, std::ios::binary) << input;
  ADD_FAILURE() << t.name << ": input " << n << " threw a non-layerlab exception; saved to " << path;
}

}  // namespace

void PrintTo(const Target& t, std::ostream* os) { *os << t.name; }

namespace {

class Fuzz : public ::testing::TestWithParam<Target> {};

TEST_P(Fuzz, OnlyClearErrors) {
  const Target& t = GetParam();
  const std::vector<std::string> seeds = t.seeds();
  ASSERT_FALSE(seeds.empty());
  // Every seed is a valid input: the target must accept it (else the mutations start nowhere).
  for (const auto& s : seeds) EXPECT_NO_THROW(t.run(s)) << t.name << " rejects its own seed";
  Rng rng{0x9E3779B97F4A7C15ull ^ std::hash<std::string>{}(t.name)};
  const int runs = runs_per_target();
  int errors = 0, findings = 0;
  for (int i = 0; i < runs; ++i) {
    const std::string input = mutate(seeds[rng.below(seeds.size())], seeds, rng);
    try {
      t.run(input);
    } catch (const Error&) {
      ++errors;
    } catch (const std::exception& e) {
      if (++findings <= 5) save_finding(t, i, input);
      ADD_FAILURE() << t.name << ": " << e.what();
    }
  }
  std::printf("fuzz %s: %d executions, %d refused with a clear error, %d findings\n", t.name, runs, errors, findings);
  EXPECT_EQ(findings, 0);
}

INSTANTIATE_TEST_SUITE_P(Targets, Fuzz, ::testing::ValuesIn(targets()),
                         [](const ::testing::TestParamInfo<Target>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace layerlab::fuzz
