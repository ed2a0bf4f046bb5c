#pragma once
// UTF-8 decoding and the few Unicode properties the tokenizers need (letters, numbers,
// punctuation, white space, marks, NFD, lower case). Properties come from ICU (Debian's
// libicu); ASCII is answered from a table because it is most of every text.
#include <cstdint>
#include <string>
#include <string_view>

namespace layerlab::tok {

// Code point returned for a byte that does not start a valid UTF-8 sequence.
inline constexpr char32_t kInvalidByte = 0xFFFFFFFFu;

struct Decoded {
  char32_t cp;  // kInvalidByte for an invalid sequence (then len == 1)
  int len;      // bytes consumed, 1..4
};

// Strict decoding (no overlong forms, surrogates or values above U+10FFFF); s[i] must exist.
inline Decoded decode_utf8(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  int len;
  char32_t cp, min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return {kInvalidByte, 1};
  }
  if (i + len > s.size()) return {kInvalidByte, 1};
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return {kInvalidByte, 1};
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {kInvalidByte, 1};
  return {cp, len};
}

void append_utf8(std::string& out, char32_t cp);

// Classes of the GPT-2 pre-tokenizer regex: \p{L}, \p{N}, \s (White_Space), anything else.
enum class Gpt2Class : uint8_t { Letter, Number, Space, Other };
Gpt2Class gpt2_class(char32_t cp);  // kInvalidByte -> Other

bool is_white_space(char32_t cp);       // Unicode White_Space (Rust char::is_whitespace)
bool is_punctuation(char32_t cp);       // general category P*
bool is_other_category(char32_t cp);    // general category C* (Cc, Cf, Cs, Co, Cn)
bool is_nonspacing_mark(char32_t cp);   // general category Mn
std::u32string nfd(const std::u32string& text);  // canonical decomposition
// Full lower-case mapping of one character, as Rust's char::to_lowercase (no context).
void append_lower(std::u32string& out, char32_t cp);

}  // namespace layerlab::tok
