#include "config_reader.h"

#include "layerlab/error.h"
#include "util/json_read.h"

namespace layerlab {

const nlohmann::json* ConfigReader::find(const std::vector<std::string>& keys, std::string* which) const {
  for (const auto& k : keys)
    if (has(k)) {
      *which = k;
      return &j_[k];
    }
  return nullptr;
}

void ConfigReader::bad(const std::string& key, const std::string& what) const {
  fail(path_ + ": field '" + key + "'", what);
}

int ConfigReader::get_int(const std::vector<std::string>& keys) const {
  std::string which;
  const nlohmann::json* v = find(keys, &which);
  if (!v) {
    std::string names;
    for (const auto& k : keys) names += (names.empty() ? "" : "' or '") + k;
    fail(path_, "missing field '" + names + "'");
  }
  return static_cast<int>(json_int(*v, 0, kMaxConfigInt, path_ + ": field '" + which + "'"));
}

int ConfigReader::get_token_id_or(const std::vector<std::string>& keys, int fallback) const {
  std::string which;
  const nlohmann::json* v = find(keys, &which);
  if (!v) return fallback;
  if (!v->is_array()) return get_int(keys);
  // Llama 3 lists several end-of-text ids; the first is the one the tokenizer config names.
  if (v->empty()) return fallback;
  return static_cast<int>(json_int((*v)[0], 0, kMaxConfigInt, path_ + ": field '" + which + "[0]'"));
}

int ConfigReader::get_int_or(const std::vector<std::string>& keys, int fallback) const {
  std::string which;
  if (!find(keys, &which)) return fallback;
  return get_int(keys);
}

double ConfigReader::get_double_or(const std::vector<std::string>& keys, double fallback) const {
  std::string which;
  const nlohmann::json* v = find(keys, &which);
  if (!v) return fallback;
  if (!v->is_number()) bad(which, "expected a number, got " + json_excerpt(*v));
  return v->get<double>();
}

std::string ConfigReader::get_string_or(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  if (!j_[key].is_string()) bad(key, "expected a string, got " + json_excerpt(j_[key]));
  return j_[key].get<std::string>();
}

bool ConfigReader::get_bool_or(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  if (!j_[key].is_boolean()) bad(key, "expected true or false, got " + json_excerpt(j_[key]));
  return j_[key].get<bool>();
}

}  // namespace layerlab
