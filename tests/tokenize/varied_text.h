#pragma once
// Deterministic "varied" text for round-trip and load tests: code, prose in several scripts,
// combining marks, emoji (ZWJ sequences, skin tones, flags), whitespace runs and random
// valid UTF-8 scalar values from every plane.
#include <cstdint>
#include <random>
#include <string>

namespace layerlab::testing {

inline void put_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

inline std::string varied_text(size_t bytes, uint32_t seed = 12345) {
  static const char* const kSnippets[] = {
      "def f(x):\n    return x**2  # square\n",
      "for (int i = 0; i < n; ++i) { a[i] += b[i] * 3.5e-2; }\n",
      "if __name__ == '__main__':\n\tmain()\n",
      "The quick brown fox jumps over the lazy dog. ",
      "don't I'll they're we've he'd 'quoted' ",
      "café naïve résumé Über straße ",
      "Привет, мир! Ελληνικά κείμενα. ",
      "你好世界，这是一个测试。日本語のテキスト。한국어 텍스트 ",
      "مرحبا بالعالم हिन्दी पाठ ",
      "emoji 👍🏽 👨‍👩‍👧‍👦 🇫🇷🇩🇪 ❤️ ",
      "1234567890 3.14159 1,000,000 ½ Ⅻ ٣ ",
      "<|endoftext|> <tag attr=\"v\">&amp;</tag> ",
      "e\u0301 a\u0308 n\u0303 ",  // combining marks
      "https://example.com/path?q=1&r=two#frag ",
  };
  static const char* const kSpaces[] = {" ", "  ", "   ", "\t", "\n", "\n\n", " \n ", "\r\n", "\u3000", "\u00a0", "\u2003 "};
  std::mt19937 rng(seed);
  std::string out;
  out.reserve(bytes + 64);
  while (out.size() < bytes) {
    switch (rng() % 4) {
      case 0:
      case 1:
        out += kSnippets[rng() % std::size(kSnippets)];
        break;
      case 2:
        out += kSpaces[rng() % std::size(kSpaces)];
        break;
      default: {
        const int n = 1 + rng() % 8;
        for (int k = 0; k < n; ++k) {
          uint32_t cp;
          switch (rng() % 4) {
            case 0: cp = 0x20 + rng() % 0x5F; break;        // printable ASCII
            case 1: cp = 0x80 + rng() % (0x800 - 0x80); break;  // two-byte range
            case 2: cp = 0x800 + rng() % (0x10000 - 0x800); break;
            default: cp = 0x10000 + rng() % (0x110000 - 0x10000); break;
          }
          if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xE000;  // surrogates are not valid UTF-8
          put_utf8(out, cp);
        }
      }
    }
  }
  return out;
}

}  // namespace layerlab::testing
