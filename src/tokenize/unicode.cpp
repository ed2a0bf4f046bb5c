#include "tokenize/unicode.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <array>
#include <vector>

#include "layerlab/error.h"

namespace layerlab::tok {

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

namespace {

Gpt2Class classify_icu(char32_t cp) {
  if (u_isUWhiteSpace(static_cast<UChar32>(cp))) return Gpt2Class::Space;
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
      return Gpt2Class::Letter;
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
      return Gpt2Class::Number;
    default:
      return Gpt2Class::Other;
  }
}

const std::array<Gpt2Class, 128> kAsciiClass = [] {
  std::array<Gpt2Class, 128> t{};
  for (char32_t c = 0; c < 128; ++c) t[c] = classify_icu(c);
  return t;
}();

}  // namespace

Gpt2Class gpt2_class(char32_t cp) {
  if (cp < 128) return kAsciiClass[cp];
  if (cp == kInvalidByte) return Gpt2Class::Other;
  return classify_icu(cp);
}

bool is_white_space(char32_t cp) { return cp != kInvalidByte && u_isUWhiteSpace(static_cast<UChar32>(cp)); }

bool is_punctuation(char32_t cp) {
  if (cp == kInvalidByte) return false;
  return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_P_MASK) != 0;
}

bool is_other_category(char32_t cp) {
  if (cp == kInvalidByte) return true;
  return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_C_MASK) != 0;
}

bool is_nonspacing_mark(char32_t cp) {
  return cp != kInvalidByte && u_charType(static_cast<UChar32>(cp)) == U_NON_SPACING_MARK;
}

std::u32string nfd(const std::u32string& text) {
  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2* norm = unorm2_getNFDInstance(&err);
  if (U_FAILURE(err)) throw Error(std::string("ICU NFD normalizer unavailable: ") + u_errorName(err));
  // ICU works on UTF-16; the text holds only valid scalar values at this point.
  std::u16string in;
  in.reserve(text.size());
  for (char32_t c : text) {
    if (c >= 0x10000) {
      in += static_cast<char16_t>(0xD800 + ((c - 0x10000) >> 10));
      in += static_cast<char16_t>(0xDC00 + ((c - 0x10000) & 0x3FF));
    } else {
      in += static_cast<char16_t>(c);
    }
  }
  if (unorm2_isNormalized(norm, reinterpret_cast<const UChar*>(in.data()), static_cast<int32_t>(in.size()), &err) &&
      U_SUCCESS(err))
    return text;
  err = U_ZERO_ERROR;
  std::vector<UChar> out(in.size() * 3 + 16);
  auto run = [&] {
    return unorm2_normalize(norm, reinterpret_cast<const UChar*>(in.data()), static_cast<int32_t>(in.size()),
                            out.data(), static_cast<int32_t>(out.size()), &err);
  };
  int32_t n = run();
  if (err == U_BUFFER_OVERFLOW_ERROR) {  // ICU told us the exact size needed
    err = U_ZERO_ERROR;
    out.resize(n);
    n = run();
  }
  if (U_FAILURE(err)) throw Error(std::string("ICU NFD normalization failed: ") + u_errorName(err));
  std::u32string result;
  result.reserve(n);
  for (int32_t i = 0; i < n;) {
    UChar32 c;
    U16_NEXT(out.data(), i, n, c);
    result += static_cast<char32_t>(c);
  }
  return result;
}

void append_lower(std::u32string& out, char32_t cp) {
  // U+0130 is the only character whose unconditional full lower case is two characters.
  if (cp == 0x130) {
    out += U'i';
    out += U'\u0307';
    return;
  }
  out += static_cast<char32_t>(u_tolower(static_cast<UChar32>(cp)));
}

}  // namespace layerlab::tok
