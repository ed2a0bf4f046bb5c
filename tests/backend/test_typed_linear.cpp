// Products with typed weights (src/backend/cpu/typed_gemm.cpp through gemm_nt) against a
// float64 product of the same weights dequantized (dequantize_row: checked on its own against
// hand-built blocks and llama.cpp's files in tests/quant/test_blocks.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "backend/cpu/gemm.h"
#include "backend/cpu/typed_gemm.h"
#include "layerlab/model.h"
#include "layerlab/quantize.h"

namespace layerlab {
namespace {

struct TypedWeight {
  std::vector<uint8_t> bytes;
  std::vector<float> dequantized;  // [n, k]
  Param p;
};

TypedWeight make_weight(WeightType t, int64_t n, int64_t k, std::mt19937& rng) {
  std::normal_distribution<float> g(0.0f, 0.1f);
  std::vector<float> w(size_t(n * k));
  for (auto& v : w) v = g(rng);
  TypedWeight tw;
  tw.bytes.resize(size_t(n * row_bytes(t, k)));
  quantize_rows(t, w.data(), n, k, tw.bytes.data());
  tw.dequantized.resize(w.size());
  for (int64_t r = 0; r < n; ++r)
    dequantize_row(t, tw.bytes.data() + r * row_bytes(t, k), k, tw.dequantized.data() + r * k);
  tw.p.raw = tw.bytes.data();
  tw.p.type = t;
  tw.p.rows = n, tw.p.cols = k;
  if (t == WeightType::F32) tw.p.data = reinterpret_cast<const float*>(tw.bytes.data());
  return tw;
}

const WeightType kTypes[] = {WeightType::F32,  WeightType::F16,  WeightType::BF16, WeightType::Q8_0,
                             WeightType::Q4_0, WeightType::Q4_K, WeightType::Q5_K, WeightType::Q6_K};

class TypedLinear : public ::testing::TestWithParam<std::tuple<WeightType, int, int>> {};

TEST_P(TypedLinear, MatchesAFloat64ProductOfTheDequantizedWeights) {
  const auto [type, m, k] = GetParam();
  std::mt19937 rng(m * 131 + k);
  const int64_t n = 200;  // not a multiple of the 16-column thread blocks or the 48-row tiles
  TypedWeight w = make_weight(type, n, k, rng);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const int64_t lda = k + 3, ldc = n + 5;  // strided input and output, as the layer buffers are
  std::vector<float> a(size_t(m * lda)), bias(n), c(size_t(m * ldc));
  for (auto& v : a) v = g(rng);
  for (auto& v : bias) v = g(rng);
  // The default tuning, and one with several tiles per thread and the row-dot path up to 8 rows.
  cpu::TypedGemmTuning& tune = cpu::typed_gemm_tuning();
  const cpu::TypedGemmTuning saved = tune;
  for (int variant = 0; variant < 4; ++variant) {
    const bool accumulate = variant % 2 == 1;
    tune = variant < 2 ? saved : cpu::TypedGemmTuning{8, 48};
    for (auto& v : c) v = g(rng);
    const std::vector<float> c0 = c;
    cpu::gemm_nt(m, n, k, cpu::weight_product(a.data(), w.p, bias.data(), c.data(), lda, ldc, accumulate));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double ref = bias[j] + (accumulate ? c0[i * ldc + j] : 0.0), scale = std::fabs(ref);
        for (int64_t l = 0; l < k; ++l) {
          const double p = double(a[i * lda + l]) * w.dequantized[j * k + l];
          ref += p, scale += std::fabs(p);
        }
        // float32 accumulation over k terms: about sqrt(k) roundings of the partial sums.
        ASSERT_NEAR(c[i * ldc + j], ref, 2e-6 * scale * std::sqrt(double(k)) + 1e-6)
            << weight_type_name(type) << " m " << m << " k " << k << " row " << i << " col " << j
            << " accumulate " << accumulate << " tuning " << variant / 2;
      }
    for (int64_t i = 0; i < m; ++i)  // the padding between rows stays untouched
      for (int64_t j = n; j < ldc; ++j) ASSERT_EQ(c[i * ldc + j], c0[i * ldc + j]);
  }
  tune = saved;
}

INSTANTIATE_TEST_SUITE_P(TypesRowsCols, TypedLinear,
                         ::testing::Combine(::testing::ValuesIn(kTypes), ::testing::Values(1, 7, 64),
                                            ::testing::Values(256, 768)),
                         [](const auto& info) {
                           return std::string(weight_type_name(std::get<0>(info.param))) + "_rows" +
                                  std::to_string(std::get<1>(info.param)) + "_cols" +
                                  std::to_string(std::get<2>(info.param));
                         });

// One activation row (decoding) of q8_0 / q4_K / q6_K / f16 / bf16 goes to the fused kernels (typed_dot.cpp):
// the same float64 reference with them on and off, at lengths that leave every tail (an odd
// number of q8_0 blocks, f16 rows of 16 but not 64 values, rows of fewer than 16).
TEST(TypedLinearOneRow, FusedKernelsMatchAFloat64Product) {
  cpu::TypedGemmTuning& tune = cpu::typed_gemm_tuning();
  const cpu::TypedGemmTuning saved = tune;
  const std::pair<WeightType, int64_t> cases[] = {{WeightType::Q8_0, 96},  {WeightType::Q8_0, 32},
                                                  {WeightType::Q8_0, 256}, {WeightType::F16, 688},
                                                  {WeightType::F16, 40},   {WeightType::BF16, 688},
                                                  {WeightType::BF16, 8},   {WeightType::Q4_K, 256},
                                                  {WeightType::Q4_K, 768}, {WeightType::Q6_K, 256},
                                                  {WeightType::Q6_K, 512}};
  for (const auto& [type, k] : cases) {
    std::mt19937 rng{uint32_t(k)};
    const int64_t n = 150;  // several 64-row chunks and a partial one, over the thread blocks
    TypedWeight w = make_weight(type, n, k, rng);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> a(static_cast<size_t>(k)), bias(n);
    for (auto& v : a) v = g(rng);
    for (auto& v : bias) v = g(rng);
    for (bool fused : {true, false})
      for (bool accumulate : {false, true}) {
        tune.fused_one_row = fused;
        std::vector<float> c(static_cast<size_t>(n));
        for (auto& v : c) v = g(rng);
        const std::vector<float> c0 = c;
        cpu::gemm_nt(1, n, k, cpu::weight_product(a.data(), w.p, bias.data(), c.data(), k, n, accumulate));
        for (int64_t j = 0; j < n; ++j) {
          double ref = bias[j] + (accumulate ? c0[j] : 0.0), scale = std::fabs(ref);
          for (int64_t l = 0; l < k; ++l) {
            const double p = double(a[l]) * w.dequantized[j * k + l];
            ref += p, scale += std::fabs(p);
          }
          ASSERT_NEAR(c[j], ref, 2e-6 * scale * std::sqrt(double(k)) + 1e-6)
              << weight_type_name(type) << " k " << k << " col " << j << " fused " << fused << " accumulate "
              << accumulate;
        }
      }
  }
  tune = saved;
}

// The members of a parallel group as one batch (one product per thread), without a bias.
TEST(TypedLinearBatch, BatchedMembersMatchSingleProducts) {
  std::mt19937 rng(3);
  const int64_t m = 5, n = 96, k = 256;
  std::vector<TypedWeight> ws;
  for (WeightType t : {WeightType::Q4_K, WeightType::Q8_0, WeightType::F16}) ws.push_back(make_weight(t, n, k, rng));
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> a(size_t(m * k));
  for (auto& v : a) v = g(rng);
  std::vector<std::vector<float>> batched(ws.size(), std::vector<float>(m * n)), single = batched;
  std::vector<cpu::GemmArgs> batch;
  for (size_t i = 0; i < ws.size(); ++i) batch.push_back(cpu::weight_product(a.data(), ws[i].p, nullptr, batched[i].data()));
  cpu::gemm_nt_batched(m, n, k, batch);
  for (size_t i = 0; i < ws.size(); ++i) {
    cpu::gemm_nt(m, n, k, cpu::weight_product(a.data(), ws[i].p, nullptr, single[i].data()));
    EXPECT_EQ(batched[i], single[i]) << i;
  }
}

TEST(TypedLinearBatch, AWeightOfTheWrongShapeIsRefused) {
  std::mt19937 rng(4);
  TypedWeight w = make_weight(WeightType::Q8_0, 32, 64, rng);
  std::vector<float> a(64), c(64);
  EXPECT_THROW(cpu::gemm_nt(1, 64, 64, cpu::weight_product(a.data(), w.p, nullptr, c.data())), std::exception);
}

}  // namespace
}  // namespace layerlab
