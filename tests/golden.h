#pragma once
// Golden cases from ../shared/golden/<model>: reference tensors computed by Hugging Face
// transformers in float64 (see ../shared/README.md). Shared by every backend's tests.
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerlab/fs.h"
#include "layerlab/safetensors.h"

namespace layerlab::testing {

inline std::string shared_dir() {
  const char* env = std::getenv("LAYERLAB_SHARED_DIR");
  return env ? env : LAYERLAB_SHARED_DIR;
}

struct GoldenCase {
  std::string key;
  nlohmann::json steps;   // JSON steps as in cases.json
  std::string plan_text;  // the same plan in the text form, written by this helper
};

// The text form of a cases.json plan, formatted here independently of the library.
inline std::string steps_to_text(const nlohmann::json& steps) {
  std::string out;
  for (const auto& s : steps) {
    if (!out.empty()) out += ",";
    if (s.is_number()) {
      out += std::to_string(s.get<int>());
    } else {
      out += "[";
      bool first = true;
      for (const auto& l : s["parallel"]) {
        out += (first ? "" : ",") + std::to_string(l.get<int>());
        first = false;
      }
      out += "]x" + std::to_string(s["iterations"].get<int>());
    }
  }
  return out;
}

inline std::vector<GoldenCase> golden_cases(const std::string& model) {
  auto j = nlohmann::json::parse(read_text_file(shared_dir() + "/golden/" + model + "/cases.json"));
  std::vector<GoldenCase> out;
  for (const auto& c : j["cases"]) out.push_back({c["key"], c["steps"], steps_to_text(c["steps"])});
  return out;
}

// Relative error metric used throughout: max |a - b| / max |b| over the tensor. Per-element
// relative error is meaningless near zero; scaling by the reference's largest magnitude
// measures error against the tensor's own size.
inline double max_rel_error(const std::vector<float>& got, const std::vector<float>& ref) {
  if (got.size() != ref.size()) return INFINITY;
  double err = 0, scale = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    err = std::max(err, std::abs(double(got[i]) - ref[i]));
    scale = std::max(scale, std::abs(double(ref[i])));
  }
  return scale > 0 ? err / scale : err;
}

}  // namespace layerlab::testing
