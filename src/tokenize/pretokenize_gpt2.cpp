#include "tokenize/pretokenize_gpt2.h"

#include "tokenize/unicode.h"

namespace layerlab::tok {

namespace {

struct Scanner {
  std::string_view s;

  // Class and byte length of the character at i (i < s.size()).
  std::pair<Gpt2Class, int> at(size_t i) const {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) return {gpt2_class(b), 1};
    const Decoded d = decode_utf8(s, i);
    return {gpt2_class(d.cp), d.len};
  }

  // End of the run of characters of class c starting at i.
  size_t run_end(size_t i, Gpt2Class c) const {
    while (i < s.size()) {
      const auto [k, len] = at(i);
      if (k != c) break;
      i += len;
    }
    return i;
  }

  // Length of a contraction ('s 't 're 've 'm 'll 'd, lower case only) at i, or 0.
  size_t contraction(size_t i) const {
    if (i + 1 >= s.size()) return 0;
    const char a = s[i + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (i + 2 >= s.size()) return 0;
    const char b = s[i + 2];
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
  }
};

}  // namespace

void split_gpt2(std::string_view text, std::vector<std::string_view>& out) {
  const Scanner sc{text};
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const auto [cls, len] = sc.at(i);
    size_t end = 0;
    if (text[i] == '\'' && sc.contraction(i) > 0) {
      end = i + sc.contraction(i);
    } else if (cls != Gpt2Class::Space) {
      end = sc.run_end(i, cls);
    } else if (text[i] == ' ' && i + 1 < n && sc.at(i + 1).first != Gpt2Class::Space) {
      end = sc.run_end(i + 1, sc.at(i + 1).first);  // " ?X+" takes one leading space
    } else {
      // \s+(?!\S) leaves the run's last character to the word that follows; \s+ otherwise.
      size_t j = i, last = i;
      while (j < n) {
        const auto [k, l] = sc.at(j);
        if (k != Gpt2Class::Space) break;
        last = j;
        j += l;
      }
      end = (j < n && last > i) ? last : j;
    }
    out.push_back(text.substr(i, end - i));
    i = end;
  }
}

}  // namespace layerlab::tok
