// Sharded checkpoints and half-precision weights load to the same model (within rounding).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "golden.h"
#include "layerlab/runner.h"

namespace layerlab::testing {
namespace {

namespace fs = std::filesystem;

// Splits llama-tiny into two shards with an index, optionally converting weights to bf16/f16
// by writing the raw 16-bit payloads (as transformers' save_pretrained does).
fs::path make_variant_folder(const std::string& tag, DType dtype) {
  const fs::path src = shared_dir() + "/golden/llama-tiny";
  const fs::path dir = fs::temp_directory_path() / ("layerlab_shard_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(src / "config.json", dir / "config.json");
  SafetensorsFile in((src / "model.safetensors").string());
  nlohmann::json index = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
  std::vector<std::string> shards = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
  nlohmann::json headers[2] = {nlohmann::json::object(), nlohmann::json::object()};
  std::string data[2];
  int i = 0;
  for (const auto& [name, t] : in.tensors()) {
    const int s = (i++) % 2;
    std::vector<float> v = in.read_f32(name);
    std::string payload;
    if (dtype == DType::F32) {
      payload.assign(reinterpret_cast<const char*>(v.data()), v.size() * 4);
    } else {
      for (float f : v) {
        const uint16_t h = dtype == DType::BF16 ? f32_to_bf16(f) : f32_to_f16(f);
        payload.append(reinterpret_cast<const char*>(&h), 2);
      }
    }
    headers[s][name] = {{"dtype", dtype_name(dtype)}, {"shape", t.shape}, {"data_offsets", {data[s].size(), data[s].size() + payload.size()}}};
    data[s] += payload;
    index["weight_map"][name] = shards[s];
  }
  for (int s = 0; s < 2; ++s) {
    const std::string h = headers[s].dump();
    const uint64_t n = h.size();
    std::ofstream out(dir / shards[s], std::ios::binary);
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << h << data[s];
  }
  std::ofstream(dir / "model.safetensors.index.json") << index.dump();
  return dir;
}

std::vector<float> last_logits(const std::string& dir) {
  auto model = load_model(dir);
  auto backend = make_cpu_backend(*model);
  Runner runner(*model, *backend);
  ForwardRequest req;
  req.ids = {1, 450, 4996, 17354, 1701, 29916};
  req.all_logits = true;
  return runner.forward(full_plan(model->config().n_layer), req).logits;
}

TEST(Checkpoint, ShardedFloat32MatchesSingleFile) {
  const auto dir = make_variant_folder("f32", DType::F32);
  EXPECT_EQ(last_logits(dir.string()), last_logits(shared_dir() + "/golden/llama-tiny"));
  EXPECT_EQ(load_model(dir.string())->files().size(), 2u);
  fs::remove_all(dir);
}

// Half-precision weights change the model by rounding only: the relative error of the
// logits stays at the level of the dtype's precision (bf16 has 8 bits of mantissa).
TEST(Checkpoint, Bfloat16AndFloat16WeightsLoad) {
  const auto ref = last_logits(shared_dir() + "/golden/llama-tiny");
  for (auto [tag, dtype, tol] : {std::tuple{"bf16", DType::BF16, 0.1}, std::tuple{"f16", DType::F16, 0.02}}) {
    const auto dir = make_variant_folder(tag, dtype);
    auto model = load_model(dir.string());
    EXPECT_EQ(model->config().weight_dtype, dtype_name(dtype));
    const double err = max_rel_error(last_logits(dir.string()), ref);
    EXPECT_GT(err, 0.0) << tag;  // the weights really were rounded
    EXPECT_LT(err, tol) << tag;
    fs::remove_all(dir);
  }
}

TEST(Half, RoundTripsExactValuesAndRoundsToNearestEven) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.103515625e-05f, 5.960464477539063e-08f})
    EXPECT_EQ(f16_to_f32(f32_to_f16(f)), f) << f;
  for (float f : {0.0f, 1.0f, -3.0f, 0x1p100f, -0x1.8p-100f}) EXPECT_EQ(bf16_to_f32(f32_to_bf16(f)), f) << f;
  // 1 + 2^-11 is halfway between two halves: ties to even (1.0); 1 + 3*2^-11 rounds up.
  EXPECT_EQ(f16_to_f32(f32_to_f16(1.0f + 0.00048828125f)), 1.0f);
  EXPECT_EQ(f16_to_f32(f32_to_f16(1.0f + 3 * 0.00048828125f)), 1.0f + 2 * 0.0009765625f);
  EXPECT_TRUE(std::isinf(f16_to_f32(f32_to_f16(1e6f))));
}

}  // namespace
}  // namespace layerlab::testing
