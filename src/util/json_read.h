#pragma once
// Reading JSON from files a user or an attacker may have written: one parse that bounds nesting,
// refuses NUL bytes and duplicate keys (nlohmann keeps the last duplicate silently, so two
// "n_layer" fields would pick one without a word), and typed getters whose errors name the
// place and quote only a short excerpt of the offending value.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace layerlab {

// Parses `text`; every failure is an Error naming `where` (a file, "request body", ...).
nlohmann::json parse_json_strict(std::string_view text, const std::string& where);

// Reads and parses a whole file with parse_json_strict; errors name the path.
nlohmann::json read_json_file(const std::string& path);

// At most `max_chars` of v.dump(), with "..." when cut: values in errors stay short.
std::string json_excerpt(const nlohmann::json& v, size_t max_chars = 40);

// The first `max_chars` of a string from a file, with "..." when cut (names, values in errors).
std::string clip(std::string_view s, size_t max_chars = 60);

// v as an integer in [lo, hi]; otherwise an Error naming `where` and the allowed range. JSON
// integers beyond int64 and floats (3.0 included) are refused rather than truncated.
int64_t json_int(const nlohmann::json& v, int64_t lo, int64_t hi, const std::string& where);

}  // namespace layerlab
