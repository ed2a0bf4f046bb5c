#pragma once
// The GPT-2 pre-tokenizer, written out by hand instead of with a regex engine:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Bytes that are not valid UTF-8 count as single [^\s\p{L}\p{N}] characters.
#include <string_view>
#include <vector>

namespace layerlab::tok {

// Appends the pieces of `text` (views into it, covering it exactly, in order) to `out`.
void split_gpt2(std::string_view text, std::vector<std::string_view>& out);

}  // namespace layerlab::tok
