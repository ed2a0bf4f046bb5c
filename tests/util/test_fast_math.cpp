// The vectorisable exp/tanh/erf of the CPU backend against libm (the reference) over the
// ranges the kernels see.
#include <gtest/gtest.h>

#include <cmath>

#include "util/fast_math.h"

namespace layerlab::fastmath {
namespace {

TEST(FastMath, ExpRelativeErrorUnder3e7) {
  double worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.000731f) {
    const double ref = std::exp(double(x));
    worst = std::max(worst, std::abs(fast_exp(x) - ref) / ref);
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(fast_exp(0.0f), 1.0f);
  EXPECT_LT(fast_exp(-1000.0f), 1e-37f);  // clamped, never NaN
  EXPECT_TRUE(std::isfinite(fast_exp(1000.0f)));
}

TEST(FastMath, TanhAndErfAbsoluteErrorUnder1e6) {
  double worst_tanh = 0, worst_erf = 0;
  for (float x = -12.0f; x <= 12.0f; x += 0.0001f) {
    worst_tanh = std::max(worst_tanh, std::abs(fast_tanh(x) - std::tanh(double(x))));
    worst_erf = std::max(worst_erf, std::abs(fast_erf(x) - std::erf(double(x))));
  }
  EXPECT_LT(worst_tanh, 1e-6);
  EXPECT_LT(worst_erf, 1e-6);
  EXPECT_EQ(fast_tanh(50.0f), 1.0f);
  EXPECT_EQ(fast_tanh(-50.0f), -1.0f);
}

}  // namespace
}  // namespace layerlab::fastmath
