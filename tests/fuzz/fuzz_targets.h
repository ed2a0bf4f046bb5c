#pragma once
// Fuzz targets for everything that parses bytes a user or an attacker may supply: safetensors
// files, config.json, plan text and JSON, tokenizer.json, benchmark JSONL records, GGUF files.
// One target is a function of the input bytes that may throw only layerlab::Error; anything else (another
// exception, a sanitizer report, a crash, a hang) is a finding.
// Two drivers run the same targets: test_fuzz.cpp (seeded mutations, in CI under ASan/UBSan)
// and fuzz_libfuzzer.cpp (coverage-guided, clang -DLAYERLAB_FUZZ=ON).
#include <string>
#include <string_view>
#include <vector>

namespace layerlab::fuzz {

struct Target {
  const char* name;
  void (*run)(std::string_view input);        // throws only layerlab::Error on bad input
  std::vector<std::string> (*seeds)();        // real files from ../shared and small edge cases
};

const std::vector<Target>& targets();
const Target* find_target(std::string_view name);

}  // namespace layerlab::fuzz
