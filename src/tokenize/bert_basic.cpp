#include "tokenize/bert_basic.h"

#include "tokenize/unicode.h"

namespace layerlab::tok {

namespace {

bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_space(char32_t c) {
  if (c < 128) return c == ' ' || (c >= '\t' && c <= '\r');
  return is_white_space(c);
}

// Removed by the cleaning step: NUL, U+FFFD and every C* character except \t \n \r.
bool is_dropped(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  if (c < 128) return c < 32 || c == 127;
  return c == 0xFFFD || is_other_category(c);
}

// BERT splits around ASCII punctuation (which includes symbols such as $ + < = > ^ ` | ~)
// and around every Unicode P* character.
bool is_punct(char32_t c) {
  if (c < 128) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  return is_punctuation(c);
}

}  // namespace

void bert_basic_split(std::string_view text, bool lowercase, bool strip_accents, std::vector<std::string>& words) {
  std::u32string s;
  s.reserve(text.size());
  bool decomposable = false;  // no canonical decomposition exists below U+00C0
  for (size_t i = 0; i < text.size();) {
    const Decoded d = decode_utf8(text, i);
    i += d.len;
    const char32_t c = d.cp == kInvalidByte ? char32_t(0xFFFD) : d.cp;
    if (is_dropped(c)) continue;
    if (is_space(c)) {
      s += U' ';
    } else if (is_cjk(c)) {
      s += U' ';
      s += c;
      s += U' ';
    } else {
      s += c;
      decomposable = decomposable || c >= 0xC0;
    }
  }
  if (strip_accents && decomposable) {
    std::u32string kept;
    for (char32_t c : nfd(s))
      if (!is_nonspacing_mark(c)) kept += c;
    s.swap(kept);
  }
  if (lowercase) {
    std::u32string lower;
    lower.reserve(s.size());
    for (char32_t c : s) {
      if (c < 128) lower += (c >= 'A' && c <= 'Z') ? c + 32 : c;
      else append_lower(lower, c);
    }
    s.swap(lower);
  }
  std::string word;
  auto flush = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (char32_t c : s) {
    if (is_space(c)) {
      flush();
    } else if (is_punct(c)) {
      flush();
      append_utf8(word, c);
      flush();
    } else {
      append_utf8(word, c);
    }
  }
  flush();
}

}  // namespace layerlab::tok
