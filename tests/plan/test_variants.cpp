// The Painters variants for T layers and N kept at each end (rules in docs/PLANS.md).
#include <gtest/gtest.h>

#include <algorithm>

#include "layerlab/error.h"
#include "layerlab/plan.h"

namespace layerlab {
namespace {

std::string v(const std::string& name, int T, int n, int k = 3, uint64_t seed = 0) {
  return plan_to_text(make_variant(name, T, n, k, seed));
}

TEST(Variants, SixLayersKeepOneAtEachEnd) {
  EXPECT_EQ(v("full", 6, 1), "0-5");
  EXPECT_EQ(v("skip", 6, 1), "0,5");
  EXPECT_EQ(v("middle_repeat", 6, 1), "0,3,3,3,3,5");  // matches golden middle_repeat
  EXPECT_EQ(v("reverse", 6, 1), "0,4-1,5");             // matches golden reverse (0,4,3,2,1,5)
  EXPECT_EQ(v("parallel", 6, 1), "0,[1-4],5");          // matches golden parallel
  EXPECT_EQ(v("looped_parallel", 6, 1, 3), "0,[1-4]x3,5");
}

TEST(Variants, ShuffleIsASeededPermutationOfTheMiddle) {
  const Plan a = make_variant("shuffle", 32, 4, 3, 7), b = make_variant("shuffle", 32, 4, 3, 7);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, make_variant("shuffle", 32, 4, 3, 8));
  std::vector<int> mid;
  for (size_t i = 4; i < 28; ++i) mid.push_back(a.steps[i].layers[0]);
  std::vector<int> sorted = mid;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 24; ++i) EXPECT_EQ(sorted[i], 4 + i);
  EXPECT_NE(mid, sorted);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(a.steps[i].layers[0], i);
}

// The library names the option's field, not a CLI flag; the CLI adds the "--" (app/main.cpp).
TEST(Variants, BadOptionsNameTheirField) {
  try {
    make_variant("skip", 6, 3, 1, 0);
    FAIL() << "N = 3 of 6 layers accepted";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.field(), "n");
    EXPECT_EQ(std::string(e.what()).rfind("n: N = 3 leaves no middle layers in a 6-layer model", 0), 0u) << e.what();
  }
  try {
    make_variant("upside_down", 6, 1, 1, 0);
    FAIL() << "unknown variant accepted";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.field(), "variant");
  }
}

TEST(Variants, ZeroKeepsNothing) { EXPECT_EQ(v("reverse", 4, 0), "3-0"); }

TEST(Variants, Errors) {
  EXPECT_THROW(make_variant("sideways", 6, 1), Error);
  EXPECT_THROW(make_variant("skip", 6, 3), Error);  // no middle left
  EXPECT_THROW(make_variant("looped_parallel", 6, 1, 0), Error);
}

}  // namespace
}  // namespace layerlab
