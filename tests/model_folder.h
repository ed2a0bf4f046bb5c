#pragma once
// A writable copy of a ../shared model folder in a temporary directory, with helpers that edit
// its config.json or safetensors header and expect load_model to fail with a clear Error.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "golden.h"
#include "layerlab/error.h"
#include "layerlab/model.h"

namespace layerlab::testing {

class ModelFolderTest : public ::testing::Test {
 protected:
  // Copies config.json and model.safetensors of ../shared/<source> (e.g. "golden/gpt2-tiny").
  void copy_from(const std::string& source) {
    namespace fs = std::filesystem;
    dir_ = fs::temp_directory_path() / ("layerlab_folder_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const fs::path src = shared_dir() + "/" + source;
    fs::copy_file(src / "config.json", dir_ / "config.json");
    fs::copy_file(src / "model.safetensors", dir_ / "model.safetensors");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string weights() const { return (dir_ / "model.safetensors").string(); }
  std::string config_path() const { return (dir_ / "config.json").string(); }
  std::string bytes() const { return read_text_file(weights()); }
  void write(const std::string& path, const std::string& content) const {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  }
  // The safetensors header as text, and the file rewritten with a new header text.
  std::string header_text() const {
    const std::string b = bytes();
    uint64_t n;
    std::memcpy(&n, b.data(), 8);
    return b.substr(8, n);
  }
  void write_header_text(const std::string& h) const {
    const std::string b = bytes();
    uint64_t n;
    std::memcpy(&n, b.data(), 8);
    const uint64_t m = h.size();
    write(weights(), std::string(reinterpret_cast<const char*>(&m), 8) + h + b.substr(8 + n));
  }
  // Rewrites the JSON header (keeping the data section) after `edit` changes it.
  void edit_header(const std::function<void(nlohmann::json&)>& edit) const {
    auto h = nlohmann::json::parse(header_text());
    edit(h);
    write_header_text(h.dump());
  }
  void edit_config(const std::function<void(nlohmann::json&)>& edit) const {
    auto j = nlohmann::json::parse(read_text_file(config_path()));
    edit(j);
    write(config_path(), j.dump());
  }
  // load_model must throw an Error whose message contains every fragment.
  void expect_error(std::initializer_list<std::string> fragments) const {
    try {
      load_model(dir_.string());
      FAIL() << "load_model accepted a broken checkpoint";
    } catch (const Error& e) {
      for (const auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
    }
  }
  std::filesystem::path dir_;
};

}  // namespace layerlab::testing
