// The layerlab family (src/model/family_layerlab.cpp): folders written by `layerlab train` for
// parallel / sas / sasp blocks. Broken configs and tensors give one clear Error naming the file
// and the field or tensor. (Numerical checks: tests/backend/test_cpu_trained_blocks.cpp.)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "layerlab/error.h"
#include "layerlab/model.h"
#include "trained_blocks.h"

namespace layerlab::testing {
namespace {

namespace fs = std::filesystem;

class LayerlabFamily : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("layerlab_fam_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    train::Transformer<float> m(tiny_shape({BlockKind::SAS, true}, 2));
    m.init(1);
    write_layerlab_folder(m, dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string config_path() const { return dir_ + "/layerlab_config.json"; }
  void edit_config(const std::function<void(nlohmann::json&)>& edit) const {
    auto j = nlohmann::json::parse(read_text_file(config_path()));
    edit(j);
    std::ofstream(config_path(), std::ios::trunc) << j.dump();
  }
  // Rewrites model.safetensors after `edit` changes the list of tensors.
  void edit_tensors(const std::function<void(std::vector<OutTensor>&)>& edit) const {
    std::vector<OutTensor> ts;
    {
      SafetensorsFile st(dir_ + "/model.safetensors");
      for (const auto& [name, info] : st.tensors()) {
        OutTensor o;
        o.name = name;
        o.shape = info.shape;
        o.f32 = st.read_f32(name);
        ts.push_back(std::move(o));
      }
    }
    edit(ts);
    write_safetensors(dir_ + "/model.safetensors", ts);
  }
  void expect_error(std::initializer_list<std::string> fragments) const {
    try {
      load_model(dir_);
      FAIL() << "load_model accepted a broken folder";
    } catch (const Error& e) {
      for (const auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
    }
  }
  std::string dir_;
};

TEST_F(LayerlabFamily, LoadsWithTheSwitchesOfItsBlockKind) {
  auto model = load_model(dir_);
  const ModelConfig& c = model->config();
  EXPECT_EQ(c.family, "layerlab");
  EXPECT_EQ(c.block, BlockKind::SAS);
  const auto layout = train::parameter_layout(tiny_shape({BlockKind::SAS, true}, 2));
  EXPECT_EQ(model->parameter_count(), train::parameter_count(layout));
  // SAS (docs/TRAINING.md): sequential, no attention skip, shaped attention, identity value and
  // projection, norms kept.
  EXPECT_FALSE(c.parallel_block);
  EXPECT_FALSE(c.attn_skip);
  EXPECT_TRUE(c.shaped_attention && c.identity_value && c.identity_proj && c.block_norms);
  EXPECT_FALSE(c.standard_block());
  ModelConfig p;
  set_block_kind(p, BlockKind::SASP, false);  // SAS-P --norm none: parallel, no skips, no norms
  EXPECT_TRUE(p.parallel_block && p.shaped_attention && !p.attn_skip && !p.block_norms);
  set_block_kind(p, BlockKind::Parallel, true);
  EXPECT_TRUE(p.parallel_block && p.attn_skip && !p.shaped_attention && !p.identity_value);
}

TEST_F(LayerlabFamily, UnknownBlock) {
  edit_config([](nlohmann::json& j) { j["block"] = "postln"; });
  expect_error({"layerlab_config.json: field 'block'", "unknown block type 'postln'"});
}

TEST_F(LayerlabFamily, MissingField) {
  edit_config([](nlohmann::json& j) { j.erase("n_head"); });
  expect_error({"layerlab_config.json: field 'n_head'", "missing"});
}

TEST_F(LayerlabFamily, WrongTypes) {
  edit_config([](nlohmann::json& j) { j["norm"] = "yes"; });
  expect_error({"layerlab_config.json: field 'norm'", "expected true or false"});
  edit_config([](nlohmann::json& j) { j["norm"] = true; j["d_model"] = 32.5; });
  expect_error({"layerlab_config.json: field 'd_model'", "expected an integer"});
  edit_config([](nlohmann::json& j) { j["d_model"] = 32; j["norm_eps"] = "small"; });
  expect_error({"layerlab_config.json: field 'norm_eps'", "expected a number"});
}

TEST_F(LayerlabFamily, BadValues) {
  edit_config([](nlohmann::json& j) { j["n_head"] = 5; });
  expect_error({"layerlab_config.json: field 'n_head'", "do not divide d_model 32"});
  edit_config([](nlohmann::json& j) { j["n_head"] = 4; j["n_layer"] = 0; });
  expect_error({"layerlab_config.json: field 'n_layer'", "must be positive"});
  edit_config([](nlohmann::json& j) { j["n_layer"] = 2; j["norm_eps"] = 0; });
  expect_error({"layerlab_config.json: field 'norm_eps'", "must be positive"});
  edit_config([](nlohmann::json& j) { j["norm_eps"] = 1e-5; j["block"] = "parallel"; j["norm"] = false; });
  expect_error({"layerlab_config.json: field 'norm'", "only possible for sas and sasp"});
}

TEST_F(LayerlabFamily, UnknownFieldAndFormat) {
  edit_config([](nlohmann::json& j) { j["n_layers"] = 2; });
  expect_error({"layerlab_config.json: field 'n_layers'", "unknown field"});
  edit_config([](nlohmann::json& j) { j.erase("n_layers"); j["format"] = "hf"; });
  expect_error({"layerlab_config.json: field 'format'", "expected \"layerlab-train\""});
  std::ofstream(config_path(), std::ios::trunc) << "{\"block\": ";
  expect_error({"layerlab_config.json", "not valid JSON"});
}

TEST_F(LayerlabFamily, MissingTensor) {
  edit_tensors([](std::vector<OutTensor>& ts) {
    std::erase_if(ts, [](const OutTensor& t) { return t.name == "h.1.attn.gamma"; });
  });
  expect_error({dir_, "missing tensor 'h.1.attn.gamma'"});
  // More layers in the config than in the file.
  edit_config([](nlohmann::json& j) { j["n_layer"] = 3; });
  expect_error({"missing tensor 'h."});
}

TEST_F(LayerlabFamily, MisShapedTensor) {
  edit_tensors([](std::vector<OutTensor>& ts) {
    for (auto& t : ts)
      if (t.name == "h.0.attn.v_resid.weight") {
        t.shape = {16, 64};
      }
  });
  expect_error({"model.safetensors: tensor 'h.0.attn.v_resid.weight'", "shape [16, 64]", "[32, 32]"});
}

TEST_F(LayerlabFamily, WrongBlockForTheTensors) {
  edit_config([](nlohmann::json& j) { j["block"] = "parallel"; });
  expect_error({"missing tensor 'h.0.attn.c_attn.weight'"});
}

}  // namespace
}  // namespace layerlab::testing
