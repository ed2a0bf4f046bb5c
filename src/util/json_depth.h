#pragma once
// A bound on JSON nesting, checked on the raw text before nlohmann::json sees it: deeply
// nested input (an array 60,000 deep is 120 KB) otherwise overflows the stack when the value
// is later destroyed, printed or echoed in an error.
#include <cstddef>
#include <string>
#include <string_view>

namespace layerlab {

// Deeper than any real config, tokenizer, safetensors header, plan or request (all < 10).
inline constexpr int kMaxJsonDepth = 64;

// The byte offset where nesting first exceeds max_depth, or std::string_view::npos.
// Brackets inside strings (with escapes) are not counted.
size_t json_depth_violation(std::string_view text, int max_depth = kMaxJsonDepth);

// Throws Error("where: JSON nested deeper than N levels (at byte K)") on a violation.
void check_json_depth(std::string_view text, const std::string& where, int max_depth = kMaxJsonDepth);

// The text itself, after check_json_depth(text, where): for `json::parse(depth_checked(...))`.
std::string depth_checked(std::string text, const std::string& where);

}  // namespace layerlab
