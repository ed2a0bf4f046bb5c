#include "config_reader.h"

#include "layerlab/error.h"

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
  if (!v->is_number_integer()) bad(which, "expected an integer, got " + v->dump());
  const long long x = v->get<long long>();
  if (x < 0 || x > (1ll << 31) - 1) bad(which, "value " + std::to_string(x) + " out of range");
  return static_cast<int>(x);
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
  if (!v->is_number()) bad(which, "expected a number, got " + v->dump());
  return v->get<double>();
}

std::string ConfigReader::get_string_or(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  if (!j_[key].is_string()) bad(key, "expected a string, got " + j_[key].dump());
  return j_[key].get<std::string>();
}

bool ConfigReader::get_bool_or(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  if (!j_[key].is_boolean()) bad(key, "expected true or false, got " + j_[key].dump());
  return j_[key].get<bool>();
}

}  // namespace layerlab
