#include "util/json_read.h"

#include <cstring>
#include <unordered_set>
#include <vector>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "util/json_depth.h"

namespace layerlab {

using nlohmann::json;

nlohmann::json parse_json_strict(std::string_view text, const std::string& where) {
  check_json_depth(text, where);
  // nlohmann's lexer takes a NUL byte as the end of input, so "{...}\0garbage" would parse.
  if (const void* nul = std::memchr(text.data(), '\0', text.size()))
    fail(where, "JSON text contains a NUL byte (at byte " +
                    std::to_string(static_cast<const char*>(nul) - text.data()) + ")");
  std::vector<std::unordered_set<std::string>> keys;  // one set per open object
  const json::parser_callback_t on_event = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      keys.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      keys.pop_back();
    } else if (event == json::parse_event_t::key && !keys.empty()) {
      const std::string& k = parsed.get_ref<const std::string&>();
      if (!keys.back().insert(k).second) fail(where, "duplicate key " + json_excerpt(json(k)) + " in a JSON object");
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), on_event);
  } catch (const json::exception& e) {
    fail(where, std::string("not valid JSON: ") + e.what());
  }
}

nlohmann::json read_json_file(const std::string& path) { return parse_json_strict(read_text_file(path), path); }

std::string json_excerpt(const nlohmann::json& v, size_t max_chars) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > max_chars) {
    s.resize(max_chars);
    s += "...";
  }
  return s;
}

std::string clip(std::string_view s, size_t max_chars) {
  return s.size() <= max_chars ? std::string(s) : std::string(s.substr(0, max_chars)) + "...";
}

int64_t json_int(const nlohmann::json& v, int64_t lo, int64_t hi, const std::string& where) {
  const std::string range = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  bool ok = false;
  int64_t x = 0;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    ok = u <= static_cast<uint64_t>(INT64_MAX);
    x = ok ? static_cast<int64_t>(u) : 0;
  } else if (v.is_number_integer()) {
    ok = true;
    x = v.get<int64_t>();
  }
  if (!ok || x < lo || x > hi) fail(where, "expected " + range + ", got " + json_excerpt(v));
  return x;
}

}  // namespace layerlab
