// The GGUF reader on llama.cpp's own files (checked against the Hugging Face folders they were
// converted from) and on hand-assembled hostile files: each must be one clear layerlab::Error
// naming the file and the field or tensor, never a crash (this suite also runs under ASan).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "golden.h"
#include "io/gguf_bytes.h"
#include "layerlab/error.h"
#include "layerlab/gguf.h"
#include "layerlab/safetensors.h"

namespace layerlab::testing {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("layerlab_gguf_" + std::to_string(::getpid()) + "_" + name)).string();
}

std::string write_temp(const std::string& name, const std::string& bytes) {
  const std::string p = temp_path(name);
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
  return p;
}

void expect_error(const std::string& bytes, std::initializer_list<std::string> fragments) {
  const std::string p = write_temp("bad.gguf", bytes);
  try {
    GgufFile f(p);
    ADD_FAILURE() << "accepted a broken file";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(p), std::string::npos) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << msg;
  }
  fs::remove(p);
}

// A valid two-tensor file: "a" f32 [4] at 0 and "b" f32 [2, 3] at 32.
GgufBytes good_file() {
  GgufBytes g;
  g.header(3, 2, 2).kv_str("general.architecture", "test").kv_u32("test.block_count", 7);
  g.tensor("a", {4}, 0, 0).tensor("b", {2, 3}, 0, 32).align();
  g.floats({1, 2, 3, 4}).align().floats({1, 2, 3, 4, 5, 6});
  return g;
}

TEST(GgufReader, ReadsLlamaCppFileLikeItsSource) {
  const std::string dir = shared_dir() + "/golden/llama-tiny";
  GgufFile f(shared_dir() + "/models/gguf/llama-tiny-f32.gguf");
  const auto cfg = nlohmann::json::parse(read_text_file(dir + "/config.json"));
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_int("llama.block_count", 0, 1000), cfg["num_hidden_layers"].get<int>());
  EXPECT_EQ(f.get_int("llama.embedding_length", 0, 1 << 20), cfg["hidden_size"].get<int>());
  EXPECT_EQ(f.get_int("llama.attention.head_count_kv", 0, 1000), cfg["num_key_value_heads"].get<int>());
  EXPECT_FLOAT_EQ(float(f.get_float("llama.attention.layer_norm_rms_epsilon")), cfg["rms_norm_eps"].get<float>());
  EXPECT_EQ(f.get_strings("tokenizer.ggml.tokens").size(), cfg["vocab_size"].get<size_t>());
  EXPECT_EQ(f.tensors().size(), 3u + 9u * cfg["num_hidden_layers"].get<size_t>());
  // token_embd holds the same float32 values as the Hugging Face embed_tokens, in ggml order.
  const GgufTensor& t = f.get("token_embd.weight");
  ASSERT_EQ(t.dims, (std::vector<int64_t>{48, 32000}));
  EXPECT_EQ(t.type, WeightType::F32);
  SafetensorsFile st(dir + "/model.safetensors");
  const auto ref = st.read_f32("model.embed_tokens.weight");
  ASSERT_EQ(ref.size() * 4, t.bytes);
  EXPECT_EQ(std::memcmp(f.data(t), ref.data(), t.bytes), 0);
  EXPECT_EQ(f.data(t) - f.data(f.tensors()[0]), int64_t(t.offset - f.tensors()[0].offset));
  EXPECT_EQ(t.offset % 32, 0u);
}

TEST(GgufReader, ReadsHandAssembledFile) {
  const std::string p = write_temp("good.gguf", good_file().b);
  GgufFile f(p);
  EXPECT_EQ(f.get_int("test.block_count", 0, 10), 7);
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"general.architecture", "test.block_count"}));
  const GgufTensor& b = f.get("b");
  EXPECT_EQ(b.rows(), 3);
  EXPECT_EQ(b.cols(), 2);
  float v[6];
  std::memcpy(v, f.data(b), 24);
  EXPECT_EQ(v[5], 6.0f);
  EXPECT_TRUE(is_gguf_file(p));  // no .gguf suffix: found by the magic
  fs::remove(p);
}

// Version 2 has the same layout as 3 (v3 only added big-endian files, which are refused).
TEST(GgufReader, ReadsVersion2) {
  GgufBytes g = good_file();
  const uint32_t v2 = 2;
  std::memcpy(g.b.data() + 4, &v2, 4);
  const std::string p = write_temp("v2.gguf", g.b);
  GgufFile f(p);
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.get("b").bytes, 24u);
  fs::remove(p);
}

TEST(GgufReader, HonoursGeneralAlignment) {
  GgufBytes g;
  g.header(3, 2, 1).kv_u32("general.alignment", 64);
  g.tensor("a", {4}, 0, 0).tensor("b", {2}, 0, 64).align(64);
  g.floats({1, 2, 3, 4}).align(64).floats({5, 6});
  const std::string p = write_temp("align.gguf", g.b);
  GgufFile f(p);
  EXPECT_EQ(f.alignment(), 64u);
  float v;
  std::memcpy(&v, f.data(f.get("b")), 4);
  EXPECT_EQ(v, 5.0f);
  fs::remove(p);
  GgufBytes bad;
  bad.header(3, 1, 1).kv_u32("general.alignment", 64).tensor("a", {4}, 0, 32).align(64);
  bad.b.append(128, '\0');
  expect_error(bad.b, {"tensor 'a': offset 32 is not a multiple of the alignment 64"});
}

// The writer's bytes are the hand-assembled ones: header, metadata in order, tensor table, padding.
TEST(GgufWriter, WritesTheSpecifiedLayout) {
  const std::string p = temp_path("written.gguf");
  write_gguf(p, {{"general.architecture", gguf_str("test")}, {"test.block_count", gguf_u32(7)}},
             {gguf_f32_tensor("a", {4}, {1, 2, 3, 4}), gguf_f32_tensor("b", {2, 3}, {1, 2, 3, 4, 5, 6})});
  std::string want = good_file().b;
  want.resize((want.size() + 31) / 32 * 32, '\0');  // the writer pads the last tensor too
  EXPECT_EQ(read_text_file(p), want);
  fs::remove(p);
}

TEST(GgufReader, TypedAccessorsNameTheKey) {
  const std::string p = write_temp("typed.gguf", good_file().b);
  GgufFile f(p);
  auto expect = [&](auto fn, const std::string& frag) {
    try {
      fn();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(frag), std::string::npos) << e.what();
    }
  };
  expect([&] { f.get_string("test.block_count"); }, "metadata key 'test.block_count': expected a string, got u32");
  expect([&] { f.get_int("general.architecture", 0, 1); }, "'general.architecture': expected an integer");
  expect([&] { f.get_int("test.block_count", 0, 5); }, "'test.block_count': 7 is outside [0, 5]");
  expect([&] { f.get_int("test.missing", 0, 5); }, "'test.missing': missing");
  expect([&] { f.get_strings("general.architecture"); }, "expected an array of strings");
  EXPECT_EQ(f.get_int_or("test.missing", 3, 0, 5), 3);
  fs::remove(p);
}

// Every proper prefix of a valid file is an error (never a crash or an out-of-bounds read).
TEST(GgufReader, EveryTruncationIsAnError) {
  const std::string b = good_file().b;
  const std::string p = temp_path("cut.gguf");
  for (size_t n = 0; n < b.size(); ++n) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << b.substr(0, n);
    EXPECT_THROW(GgufFile{p}, Error) << "prefix of " << n << " bytes";
  }
  fs::remove(p);
}

TEST(GgufReader, HostileHeaders) {
  expect_error("GGUX" + good_file().b.substr(4), {"not a GGUF file"});
  GgufBytes v1;
  v1.header(1, 0, 0);
  expect_error(v1.b, {"version 1 is not supported"});
  GgufBytes be;
  be.header(0x03000000, 0, 0);
  expect_error(be.b, {"big-endian"});
  GgufBytes many;
  many.header(3, 0, uint64_t(1) << 60);
  expect_error(many.b, {"metadata count 1152921504606846976 cannot fit"});
  GgufBytes tensors;
  tensors.header(3, 1000000, 0);
  expect_error(tensors.b, {"tensor count 1000000 cannot fit"});
  GgufBytes longstr;
  longstr.header(3, 0, 1).str("k").put<uint32_t>(8).put<uint64_t>(uint64_t(1) << 40);
  expect_error(longstr.b, {"metadata key 'k'", "1099511627776-byte string"});
  GgufBytes arr;
  arr.header(3, 0, 1).str("k").put<uint32_t>(9).put<uint32_t>(6).put<uint64_t>(uint64_t(1) << 62);
  expect_error(arr.b, {"metadata key 'k'", "does not fit"});
  GgufBytes nested;
  nested.header(3, 0, 1).str("k").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(1);
  expect_error(nested.b, {"metadata key 'k'", "nested arrays"});
  GgufBytes type;
  type.header(3, 0, 1).str("k").put<uint32_t>(13).put<uint32_t>(0);
  expect_error(type.b, {"metadata key 'k'", "unknown value type 13"});
  GgufBytes dup;
  dup.header(3, 0, 2).kv_u32("k", 1).kv_u32("k", 2);
  expect_error(dup.b, {"metadata key 'k' appears twice"});
  GgufBytes boolv;
  boolv.header(3, 0, 1).str("k").put<uint32_t>(7).put<uint8_t>(2);
  expect_error(boolv.b, {"'k': bool value 2"});
  GgufBytes align;
  align.header(3, 0, 1).kv_u32("general.alignment", 24);
  expect_error(align.b, {"'general.alignment': must be a power of two"});
}

GgufBytes one_tensor(const std::vector<uint64_t>& dims, uint32_t type, uint64_t offset, size_t data_bytes = 64) {
  GgufBytes g;
  g.header(3, 1, 0).tensor("w", dims, type, offset).align();
  g.b.append(data_bytes, '\0');
  return g;
}

TEST(GgufReader, HostileTensorTable) {
  expect_error(one_tensor({1, 1, 1, 1, 1}, 0, 0).b, {"tensor 'w': n_dims 5"});
  expect_error(one_tensor({}, 0, 0).b, {"tensor 'w': n_dims 0"});
  expect_error(one_tensor({0}, 0, 0).b, {"tensor 'w': dimension 0 (0)"});
  expect_error(one_tensor({uint64_t(1) << 40, uint64_t(1) << 40}, 0, 0).b, {"tensor 'w': dimension 1", "overflow"});
  expect_error(one_tensor({4}, 99, 0).b, {"tensor 'w': unknown or unsupported ggml type id 99"});
  expect_error(one_tensor({4}, 6, 0).b, {"tensor 'w'", "type id 6"});  // Q5_0: not a layerlab type
  expect_error(one_tensor({33}, 8, 0).b, {"tensor 'w'", "not a whole number of q8_0 blocks"});
  expect_error(one_tensor({4}, 0, 8).b, {"tensor 'w': offset 8 is not a multiple of the alignment 32"});
  expect_error(one_tensor({17}, 0, 0).b, {"tensor 'w': data [0, 68) lies outside the data section (64 bytes)"});
  expect_error(one_tensor({4}, 0, uint64_t(-32)).b, {"tensor 'w'", "outside the data section"});
  GgufBytes longname;
  longname.header(3, 1, 0).tensor(std::string(100, 'x'), {4}, 0, 0);
  expect_error(longname.b, {"tensor 0 name: string length 100 exceeds 64"});
  GgufBytes dup;
  dup.header(3, 2, 0).tensor("w", {4}, 0, 0).tensor("w", {4}, 0, 32).align();
  dup.b.append(64, '\0');
  expect_error(dup.b, {"tensor 'w' appears twice"});
  GgufBytes overlap;
  overlap.header(3, 2, 0).tensor("a", {16}, 0, 0).tensor("b", {4}, 0, 32).align();
  overlap.b.append(64, '\0');
  expect_error(overlap.b, {"tensors 'a' and 'b' overlap"});
}

}  // namespace
}  // namespace layerlab::testing
