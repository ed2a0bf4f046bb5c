// libFuzzer entry point: one executable per target (fuzz_<target>), coverage-guided. Built with
// clang and -DLAYERLAB_FUZZ=ON (docs/TESTING.md); run e.g. `build-fuzz/tests/fuzz/fuzz_config
// -max_total_time=600 corpus/`. A non-layerlab exception aborts, which libFuzzer reports.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz/fuzz_targets.h"
#include "layerlab/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const layerlab::fuzz::Target* target = [] {
    const auto* t = layerlab::fuzz::find_target(LAYERLAB_FUZZ_TARGET);
    if (!t) std::abort();
    return t;
  }();
  try {
    target->run(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const layerlab::Error&) {
    // refused with a clear error: the expected outcome for bad input
  }
  return 0;
}
