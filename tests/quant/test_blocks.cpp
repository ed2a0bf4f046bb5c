// The block formats against (a) blocks built byte by byte from ggml's documented layouts,
// (b) round-trip error bounds of the quantizers, (c) tensors that llama.cpp itself quantized
// (../shared/models/gguf) compared with their f16 source (../shared/models/llama-code-16l).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "layerlab/error.h"
#include "layerlab/quantize.h"
#include "layerlab/safetensors.h"
#include "quant/decode.h"
#include "quant/gguf_locator.h"

namespace layerlab {
namespace {

const WeightType kBlockTypes[] = {WeightType::Q8_0, WeightType::Q4_0, WeightType::Q4_K, WeightType::Q5_K,
                                  WeightType::Q6_K};

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) { b[at] = uint8_t(v), b[at + 1] = uint8_t(v >> 8); }

// Decodes with every decoder this machine has and checks each against `want`.
void expect_decodes_to(WeightType t, const std::vector<uint8_t>& bytes, const std::vector<float>& want) {
  const int64_t cols = int64_t(want.size());
  ASSERT_EQ(int64_t(bytes.size()), row_bytes(t, cols));
  std::vector<float> got(want.size());
  dequantize_row(t, bytes.data(), cols, got.data());
  std::vector<float> plain(want.size());
  quant::decode_row_plain(t, bytes.data(), cols, plain.data());
  for (int64_t i = 0; i < cols; ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-6 * std::fabs(want[i])) << weight_type_name(t) << " value " << i;
    EXPECT_NEAR(plain[i], want[i], 1e-6 * std::fabs(want[i])) << weight_type_name(t) << " plain value " << i;
  }
}

// Half floats used as block scales: exact powers of two, so expected values are exact.
constexpr uint16_t kHalf2 = 0x4000, kHalf1 = 0x3C00, kHalfHalf = 0x3800, kHalfQuarter = 0x3400;

TEST(Blocks, Q8_0ByHand) {  // {f16 d, int8 qs[32]}: x = d q
  std::vector<uint8_t> b(2 * 34);
  std::vector<float> want(64);
  for (int blk = 0; blk < 2; ++blk) {
    put16(b, 34 * blk, blk ? kHalfQuarter : kHalf2);
    for (int i = 0; i < 32; ++i) {
      const int8_t q = int8_t(blk ? 127 - 8 * i : i * 4 - 128);
      b[34 * blk + 2 + i] = uint8_t(q);
      want[32 * blk + i] = (blk ? 0.25f : 2.0f) * q;
    }
  }
  expect_decodes_to(WeightType::Q8_0, b, want);
}

TEST(Blocks, Q4_0ByHand) {  // {f16 d, qs[16]}: x[j] = d (lo(qs[j]) - 8), x[j + 16] = d (hi(qs[j]) - 8)
  std::vector<uint8_t> b(18);
  std::vector<float> want(32);
  put16(b, 0, kHalfHalf);
  for (int j = 0; j < 16; ++j) {
    b[2 + j] = uint8_t(j | ((15 - j) << 4));
    want[j] = 0.5f * (j - 8), want[j + 16] = 0.5f * (15 - j - 8);
  }
  expect_decodes_to(WeightType::Q4_0, b, want);
}

// Q4_K / Q5_K scales: 12 bytes; sub-block j < 4: scale = b[j] & 63, min = b[j + 4] & 63;
// j >= 4: scale = (b[j + 4] & 15) | (b[j - 4] >> 6) << 4, min = (b[j + 4] >> 4) | (b[j] >> 6) << 4.
std::vector<uint8_t> k_scales(const int sc[8], const int m[8]) {
  std::vector<uint8_t> s(12);
  for (int j = 0; j < 4; ++j) {
    s[j] = uint8_t(sc[j] | ((sc[j + 4] >> 4) << 6));
    s[j + 4] = uint8_t(m[j] | ((m[j + 4] >> 4) << 6));
    s[j + 8] = uint8_t((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
  }
  return s;
}
const int kSc[8] = {1, 7, 20, 63, 17, 33, 48, 62}, kMin[8] = {0, 5, 63, 9, 16, 40, 1, 55};

// Q4_K (144 bytes): f16 d, f16 dmin, scales[12], qs[128]. Values 64p + l (l < 32) are the low
// nibbles of qs[32p + l] in sub-block 2p, values 64p + 32 + l the high nibbles in sub-block 2p + 1;
// x = d scale q - dmin min.
TEST(Blocks, Q4_KByHand) {
  std::vector<uint8_t> b(144);
  put16(b, 0, kHalfHalf), put16(b, 2, kHalfQuarter);
  const auto s = k_scales(kSc, kMin);
  std::copy(s.begin(), s.end(), b.begin() + 4);
  std::vector<float> want(256);
  for (int p = 0; p < 4; ++p)
    for (int l = 0; l < 32; ++l) {
      const int lo = (l + p) % 16, hi = (3 * l + 7 * p) % 16;
      b[16 + 32 * p + l] = uint8_t(lo | (hi << 4));
      want[64 * p + l] = 0.5f * kSc[2 * p] * lo - 0.25f * kMin[2 * p];
      want[64 * p + 32 + l] = 0.5f * kSc[2 * p + 1] * hi - 0.25f * kMin[2 * p + 1];
    }
  expect_decodes_to(WeightType::Q4_K, b, want);
}

// Q5_K (176 bytes): as Q4_K with qh[32] after the scales, then qs[128]; value 64p + l takes
// bit 2p of qh[l] as its fifth bit (+16), value 64p + 32 + l bit 2p + 1.
TEST(Blocks, Q5_KByHand) {
  std::vector<uint8_t> b(176);
  put16(b, 0, kHalf1), put16(b, 2, kHalfHalf);
  const auto s = k_scales(kSc, kMin);
  std::copy(s.begin(), s.end(), b.begin() + 4);
  std::vector<float> want(256);
  for (int p = 0; p < 4; ++p)
    for (int l = 0; l < 32; ++l) {
      const int lo = (5 * l + p) % 32, hi = (l * l + 3 * p) % 32;
      b[48 + 32 * p + l] = uint8_t((lo & 15) | ((hi & 15) << 4));
      b[16 + l] |= uint8_t(((lo >> 4) << (2 * p)) | ((hi >> 4) << (2 * p + 1)));
      want[64 * p + l] = 1.0f * kSc[2 * p] * lo - 0.5f * kMin[2 * p];
      want[64 * p + 32 + l] = 1.0f * kSc[2 * p + 1] * hi - 0.5f * kMin[2 * p + 1];
    }
  expect_decodes_to(WeightType::Q5_K, b, want);
}

// Q6_K (210 bytes): ql[128], qh[64], int8 scales[16], f16 d. In each half h (128 values,
// ql + 64h, qh + 32h, scales + 8h), for l < 32: q(l) = lo(ql[l]) | (qh[l] & 3) << 4,
// q(l + 32) = lo(ql[l + 32]) | (qh[l] >> 2 & 3) << 4, q(l + 64) = hi(ql[l]) | (qh[l] >> 4 & 3) << 4,
// q(l + 96) = hi(ql[l + 32]) | (qh[l] >> 6) << 4; x = d scale[16-value group] (q - 32).
TEST(Blocks, Q6_KByHand) {
  std::vector<uint8_t> b(210);
  const int8_t sc[16] = {1, -1, 127, -128, 3, 50, -77, 9, 0, 12, -5, 100, 64, -64, 2, 33};
  std::memcpy(b.data() + 192, sc, 16);
  put16(b, 208, kHalfQuarter);
  std::vector<int> q(256);
  for (int i = 0; i < 256; ++i) q[i] = (i * 37 + 11) % 64;
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int* v = q.data() + 128 * h;
      b[64 * h + l] = uint8_t((v[l] & 15) | ((v[l + 64] & 15) << 4));
      b[64 * h + l + 32] = uint8_t((v[l + 32] & 15) | ((v[l + 96] & 15) << 4));
      b[128 + 32 * h + l] = uint8_t((v[l] >> 4) | ((v[l + 32] >> 4) << 2) | ((v[l + 64] >> 4) << 4) | ((v[l + 96] >> 4) << 6));
    }
  std::vector<float> want(256);
  for (int i = 0; i < 256; ++i) want[i] = 0.25f * sc[i / 16] * (q[i] - 32);
  expect_decodes_to(WeightType::Q6_K, b, want);
}

TEST(Blocks, HalfTypesByHand) {
  const uint16_t f16[] = {0x3C00, 0xC000, 0x3555, 0x0001, 0x7BFF, 0x8000};
  const float f16_want[] = {1.0f, -2.0f, 0.333251953125f, 5.9604645e-8f, 65504.0f, -0.0f};
  const uint16_t bf16[] = {0x3F80, 0xC040, 0x3EAB, 0x0080, 0x7F7F, 0x4049};
  const float bf16_want[] = {1.0f, -3.0f, 0.333984375f, 1.17549435e-38f, 3.38953139e38f, 3.140625f};
  for (int n : {6, 16 + 6, 40}) {  // a tail, and whole vectors
    std::vector<uint8_t> a(2 * n), c(2 * n);
    std::vector<float> wa(n), wc(n);
    for (int i = 0; i < n; ++i) {
      put16(a, 2 * i, f16[i % 6]), put16(c, 2 * i, bf16[i % 6]);
      wa[i] = f16_want[i % 6], wc[i] = bf16_want[i % 6];
    }
    expect_decodes_to(WeightType::F16, a, wa);
    expect_decodes_to(WeightType::BF16, c, wc);
  }
}

TEST(Blocks, RowsThatAreNotWholeBlocksAreRefused) {
  std::vector<float> x(48), y(48);
  std::vector<uint8_t> b(1000);
  for (WeightType t : kBlockTypes) {
    EXPECT_THROW(quantize_rows(t, x.data(), 1, 48 + (t == WeightType::Q8_0 || t == WeightType::Q4_0 ? 1 : 0), b.data()), Error);
    if (block_elements(t) == 256) {
      EXPECT_THROW(dequantize_row(t, b.data(), 128, y.data()), Error);
    }
  }
}

// A row length read from a hostile GGUF file (dims up to 2^62) whose byte size overflows int64_t
// is an Error, not signed overflow (found by the gguf fuzz target under UBSan).
TEST(Blocks, RowBytesThatOverflowAreRefused) {
  EXPECT_THROW(row_bytes(WeightType::F32, int64_t(1) << 62), Error);
  EXPECT_THROW(row_bytes(WeightType::F16, (int64_t(1) << 62) + (int64_t(1) << 61)), Error);
  EXPECT_EQ(row_bytes(WeightType::F32, int64_t(1) << 60), int64_t(1) << 62);
  EXPECT_EQ(row_bytes(WeightType::Q4_K, 512), 288);
}

// The grid a value of a block can decode to: step between neighbours, lowest and highest point.
// Written from the formats' definitions (not through the decoders).
struct Grid {
  double step, lo, hi, slack;
};
Grid grid_of(WeightType t, const uint8_t* blk, int i) {
  auto h = [&](int at) {
    uint16_t v;
    std::memcpy(&v, blk + at, 2);
    return double(f16_to_f32(v));
  };
  auto span = [](double step, double a, double b, double slack) {
    return Grid{std::fabs(step), std::min(a, b), std::max(a, b), slack};
  };
  switch (t) {
    // Q8_0 / Q4_0 pick codes with the unrounded scale, so the f16 rounding of d (2^-11
    // relative) moves a decoded value by up to |q| d 2^-11.
    case WeightType::Q8_0: return span(h(0), -127 * h(0), 127 * h(0), 127 * std::fabs(h(0)) / 2048);
    case WeightType::Q4_0: return span(h(0), -8 * h(0), 7 * h(0), 8 * std::fabs(h(0)) / 2048);
    case WeightType::Q6_K: {
      const double s = h(208) * int8_t(blk[192 + i / 16]);
      return span(s, -32 * s, 31 * s, 0);
    }
    case WeightType::Q4_K:
    case WeightType::Q5_K: {
      const int j = i / 32, top = t == WeightType::Q4_K ? 15 : 31;
      const uint8_t* s = blk + 4;
      const int sc = j < 4 ? s[j] & 63 : (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
      const int m = j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
      const double step = h(0) * sc, off = h(2) * m;
      return span(step, -off, top * step - off, 0);
    }
    default: return {0, 0, 0, 0};  // f16 / bf16 / f32: exact
  }
}

// y must be x's nearest point of the block's grid: within half a step inside the grid, the
// grid's end when x lies beyond it (the quantizers clamp).
::testing::AssertionResult on_grid(WeightType t, const uint8_t* blk, int i, double x, double y) {
  const Grid g = grid_of(t, blk, i);
  const double tiny = 1e-6 * std::max({std::fabs(g.lo), std::fabs(g.hi), 1e-3});
  double want_err = 0.5 * g.step + g.slack + tiny;
  if (x > g.hi + 0.5 * g.step) want_err = std::fabs(x - g.hi) + g.slack + tiny;
  if (x < g.lo - 0.5 * g.step) want_err = std::fabs(x - g.lo) + g.slack + tiny;
  if (std::fabs(x - y) <= want_err) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "x " << x << " decoded " << y << " step " << g.step << " grid [" << g.lo
                                       << ", " << g.hi << "]";
}

// Quantize random rows (Gaussian with outliers, a zero block, a constant block): every value
// decodes to its nearest grid point, and the relative RMS error is what the bits allow.
TEST(Blocks, RoundTripWithinTheQuantizationStep) {
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.0f, 0.05f);
  const int64_t rows = 6, cols = 512;
  std::vector<float> x(rows * cols);
  for (auto& v : x) v = g(rng);
  for (int i = 0; i < 8; ++i) x[rng() % x.size()] *= 20;             // outliers
  for (int i = 0; i < 256; ++i) x[cols + i] = 0.0f, x[2 * cols + i] = 0.3f;  // zero / constant blocks
  const double rms_limit[] = {0.01, 0.12, 0.09, 0.045, 0.025};       // relative RMS, by type
  for (size_t ti = 0; ti < std::size(kBlockTypes); ++ti) {
    const WeightType t = kBlockTypes[ti];
    const int64_t rb = row_bytes(t, cols);
    std::vector<uint8_t> q(rows * rb);
    quantize_rows(t, x.data(), rows, cols, q.data());
    std::vector<float> y(x.size());
    for (int64_t r = 0; r < rows; ++r) dequantize_row(t, q.data() + r * rb, cols, y.data() + r * cols);
    double se = 0, ss = 0;
    const int64_t be = block_elements(t), bb = block_bytes(t);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const double e = std::fabs(double(y[r * cols + c]) - x[r * cols + c]);
        const uint8_t* blk = q.data() + r * rb + (c / be) * bb;
        ASSERT_TRUE(on_grid(t, blk, int(c % be), x[r * cols + c], y[r * cols + c]))
            << weight_type_name(t) << " row " << r << " col " << c;
        se += e * e, ss += double(x[r * cols + c]) * x[r * cols + c];
      }
    EXPECT_LE(std::sqrt(se / ss), rms_limit[ti]) << weight_type_name(t);
    for (int c = 0; c < 256; ++c) EXPECT_EQ(y[cols + c], 0.0f) << weight_type_name(t) << " zero block";
  }
  // f16 / bf16 round trips: exact for representable values, within half an ulp otherwise.
  for (WeightType t : {WeightType::F16, WeightType::BF16}) {
    std::vector<uint8_t> q(rows * cols * 2);
    std::vector<float> y(x.size());
    quantize_rows(t, x.data(), rows, cols, q.data());
    for (int64_t r = 0; r < rows; ++r) dequantize_row(t, q.data() + r * cols * 2, cols, y.data() + r * cols);
    const double ulp = t == WeightType::F16 ? 1.0 / 1024 : 1.0 / 128;
    for (size_t i = 0; i < x.size(); ++i) ASSERT_LE(std::fabs(y[i] - x[i]), 0.5 * ulp * std::fabs(x[i]) + 3e-8);
  }
}

// llama.cpp's own files: its converter wrote Q8_0, llama-quantize wrote Q4_K / Q6_K, each from
// the f16 weights of llama-code-16l. Decoded rows must lie within the step of the source values;
// and ggml's reference quantizers (what llama-quantize runs without an importance matrix) on the
// source must give llama.cpp's bytes.
struct RealCase {
  const char* file;
  const char* gguf_name;
  const char* hf_name;
  uint32_t ggml_type;
};

class RealFiles : public ::testing::TestWithParam<RealCase> {};

TEST_P(RealFiles, DecodeWithinTheStepOfTheF16Source) {
  const RealCase c = GetParam();
  const std::string shared = LAYERLAB_SHARED_DIR;
  test::GgufLocator gguf(shared + "/models/gguf/" + c.file);
  const test::GgufTensor& t = gguf.get(c.gguf_name);
  WeightType type;
  ASSERT_TRUE(weight_type_from_ggml(t.ggml_type, type));
  ASSERT_EQ(t.ggml_type, c.ggml_type) << "the file's type for " << c.gguf_name;
  const int64_t cols = int64_t(t.dims[0]), rows = int64_t(t.dims[1]);
  const int64_t rb = row_bytes(type, cols);
  ASSERT_LE(uint64_t(rows * rb), gguf.bytes_after(t));
  SafetensorsFile st(shared + "/models/llama-code-16l/model.safetensors");
  const std::vector<float> src = st.read_f32(c.hf_name);
  ASSERT_EQ(int64_t(src.size()), rows * cols);
  std::vector<float> row(cols);
  std::vector<uint8_t> mine(rb);
  int64_t byte_equal_rows = 0;
  const int64_t be = block_elements(type), bb = block_bytes(type);
  for (int64_t r = 0; r < rows; r += (rows > 2000 ? 7 : 1)) {
    const uint8_t* blocks = t.data + r * rb;
    dequantize_row(type, blocks, cols, row.data());
    for (int64_t i = 0; i < cols; ++i)
      ASSERT_TRUE(on_grid(type, blocks + (i / be) * bb, int(i % be), src[r * cols + i], row[i]))
          << c.gguf_name << " row " << r << " col " << i;
    quantize_rows(type, src.data() + r * cols, 1, cols, mine.data());
    byte_equal_rows += std::memcmp(mine.data(), blocks, size_t(rb)) == 0;
  }
  const int64_t checked = (rows + (rows > 2000 ? 6 : 0)) / (rows > 2000 ? 7 : 1);
  // Q8_0 (gguf-py's quantizer), Q6_K and F16 are byte-identical. For Q4_K 94% of the rows are
  // (640 of 688 in blk.5.ffn_gate, 4312 of 4572 sampled token_embd rows); the others pick other
  // sub-block scales for the same input, a difference in llama.cpp's build (c392e509) that we
  // have not pinned down, and still decode onto the source's grid (checked above).
  if (type == WeightType::Q4_K)
    EXPECT_GE(byte_equal_rows, checked * 9 / 10) << c.gguf_name << ": rows whose blocks equal llama.cpp's";
  else
    EXPECT_EQ(byte_equal_rows, checked) << c.gguf_name << ": rows whose blocks equal llama.cpp's";
}

INSTANTIATE_TEST_SUITE_P(
    Llama, RealFiles,
    ::testing::Values(RealCase{"llama-code-16l-q8_0.gguf", "token_embd.weight", "model.embed_tokens.weight", 8},
                      RealCase{"llama-code-16l-q8_0.gguf", "blk.3.ffn_gate.weight", "model.layers.3.mlp.gate_proj.weight", 8},
                      RealCase{"llama-code-16l-q4_K_M.gguf", "token_embd.weight", "model.embed_tokens.weight", 12},
                      RealCase{"llama-code-16l-q4_K_M.gguf", "blk.5.ffn_gate.weight", "model.layers.5.mlp.gate_proj.weight", 12},
                      RealCase{"llama-code-16l-q4_K_M.gguf", "output.weight", "lm_head.weight", 14},
                      RealCase{"llama-code-16l-q4_K_M.gguf", "blk.0.attn_v.weight", "model.layers.0.self_attn.v_proj.weight", 14},
                      RealCase{"llama-code-16l-q4_K_M.gguf", "blk.2.ffn_down.weight", "model.layers.2.mlp.down_proj.weight", 1}),
    [](const auto& info) { return "case" + std::to_string(info.index); });

}  // namespace
}  // namespace layerlab
