#pragma once
// Typed access to config.json fields with errors that name the file and the field.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace layerlab {

// No size, count or id in a real config comes near 2^24 (the largest vocabularies are ~2^18,
// the longest contexts ~2^23); the bound keeps every product of two sizes inside int64 and
// refuses absurd values before anything is sized by them.
inline constexpr int kMaxConfigInt = 1 << 24;

class ConfigReader {
 public:
  ConfigReader(std::string path, nlohmann::json j) : path_(std::move(path)), j_(std::move(j)) {}
  const nlohmann::json& json() const { return j_; }
  const std::string& path() const { return path_; }
  bool has(const std::string& key) const { return j_.contains(key) && !j_[key].is_null(); }
  // First present key among `keys` (HF families use different names for the same thing), an
  // integer from 0 to kMaxConfigInt.
  int get_int(const std::vector<std::string>& keys) const;
  int get_int_or(const std::vector<std::string>& keys, int fallback) const;
  // A token id field, which may also be a list of ids (the first is taken).
  int get_token_id_or(const std::vector<std::string>& keys, int fallback) const;
  double get_double_or(const std::vector<std::string>& keys, double fallback) const;
  std::string get_string_or(const std::string& key, const std::string& fallback) const;
  bool get_bool_or(const std::string& key, bool fallback) const;
  [[noreturn]] void bad(const std::string& key, const std::string& what) const;

 private:
  const nlohmann::json* find(const std::vector<std::string>& keys, std::string* which) const;
  std::string path_;
  nlohmann::json j_;
};

}  // namespace layerlab
