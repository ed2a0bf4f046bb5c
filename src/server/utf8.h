#pragma once
// UTF-8 helpers for streaming text token by token.
#include <string>

namespace layerlab::server {

// Length of the longest prefix of s that does not end inside a multi-byte UTF-8 sequence.
inline size_t complete_utf8_prefix(const std::string& s) {
  size_t n = s.size();
  // Walk back over at most 3 continuation bytes to the lead byte of the last sequence.
  size_t i = n, back = 0;
  while (i > 0 && back < 4 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i, ++back;
  if (i == 0) return n;
  const unsigned char lead = static_cast<unsigned char>(s[i - 1]);
  size_t need = 1;
  if ((lead & 0xE0) == 0xC0) need = 2;
  else if ((lead & 0xF0) == 0xE0) need = 3;
  else if ((lead & 0xF8) == 0xF0) need = 4;
  else return n;  // ASCII or an invalid lead byte: nothing to wait for
  return back + 1 >= need ? n : i - 1;
}

}  // namespace layerlab::server
