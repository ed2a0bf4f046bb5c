#include "util/json_depth.h"

#include "layerlab/error.h"

namespace layerlab {

size_t json_depth_violation(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::string_view::npos;
}

void check_json_depth(std::string_view text, const std::string& where, int max_depth) {
  const size_t at = json_depth_violation(text, max_depth);
  if (at != std::string_view::npos)
    fail(where, "JSON nested deeper than " + std::to_string(max_depth) + " levels (at byte " +
                    std::to_string(at) + ")");
}

std::string depth_checked(std::string text, const std::string& where) {
  check_json_depth(text, where);
  return text;
}

}  // namespace layerlab
