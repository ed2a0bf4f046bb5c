#include "tokenize/bpe.h"

#include <algorithm>
#include <queue>

#include "layerlab/error.h"
#include "tokenize/pretokenize_gpt2.h"
#include "tokenize/unicode.h"

namespace layerlab::tok {

namespace {

constexpr size_t kMaxCachedWord = 64;        // longer pieces are rare; not worth keeping
constexpr size_t kMaxCacheEntries = 1 << 18;  // cleared when full, so memory stays bounded

uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

}  // namespace

const std::array<char32_t, 256>& byte_to_unicode() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    std::array<bool, 256> printable{};
    for (int b = '!'; b <= '~'; ++b) printable[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
    char32_t next = 256;  // the others take the code points from U+0100 on, in byte order
    for (int b = 0; b < 256; ++b) t[b] = printable[b] ? char32_t(b) : next++;
    return t;
  }();
  return table;
}

ByteLevelBpe::ByteLevelBpe(BpeSpec spec)
    : ignore_merges_(spec.ignore_merges), add_prefix_space_(spec.add_prefix_space), bos_(spec.bos), eos_(spec.eos) {
  // Ids index the piece tables, so each is checked against a bound that a dense vocabulary
  // meets with room to spare: a hostile id (negative, 2^31-1) can neither index out of the
  // tables nor make them gigabytes large.
  const int64_t entries = static_cast<int64_t>(spec.vocab.size() + spec.added.size());
  const int64_t limit = std::min<int64_t>(2 * entries + 1024, INT32_MAX);
  auto check_id = [&](int32_t id, const std::string& piece) {
    if (id < 0 || id >= limit)
      fail(spec.source, "token id " + std::to_string(id) + " of '" + piece.substr(0, 40) + "' is outside [0, " +
                            std::to_string(limit) + "): ids must be about as dense as the " +
                            std::to_string(entries) + " entries");
  };
  int32_t size = 0;
  for (const auto& [p, id] : spec.vocab) {
    check_id(id, p);
    size = std::max(size, id + 1);
  }
  for (const auto& a : spec.added) {
    check_id(a.id, a.content);
    size = std::max(size, a.id + 1);
  }
  pieces_.resize(size);
  bytes_.resize(size);

  std::unordered_map<char32_t, unsigned char> to_byte;
  const auto& b2u = byte_to_unicode();
  for (int b = 0; b < 256; ++b) to_byte[b2u[b]] = static_cast<unsigned char>(b);
  for (const auto& [p, id] : spec.vocab) {
    pieces_[id] = p;
    std::string raw;
    for (size_t i = 0; i < p.size();) {
      const Decoded d = decode_utf8(p, i);
      auto it = to_byte.find(d.cp);
      if (it != to_byte.end()) raw += static_cast<char>(it->second);
      else raw.append(p, i, d.len);  // not a byte-level character: keep it as written
      i += d.len;
    }
    bytes_[id] = raw;
    if (ignore_merges_) whole_.emplace(raw, id);
  }
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    append_utf8(ch, b2u[b]);
    auto it = spec.vocab.find(ch);
    if (it == spec.vocab.end()) fail(spec.source, "the vocabulary lacks the byte-level token for byte " + std::to_string(b));
    byte_id_[b] = it->second;
  }
  merges_.reserve(spec.merges.size());
  for (size_t r = 0; r < spec.merges.size(); ++r) {
    const auto& [a, b] = spec.merges[r];
    auto ia = spec.vocab.find(a), ib = spec.vocab.find(b), im = spec.vocab.find(a + b);
    if (ia == spec.vocab.end() || ib == spec.vocab.end() || im == spec.vocab.end())
      fail(spec.source, "merge " + std::to_string(r + 1) + " ('" + a + " " + b + "') uses a piece missing from the vocabulary");
    merges_.try_emplace(pair_key(ia->second, ib->second), Merge{static_cast<int32_t>(r), im->second});
  }
  for (const auto& a : spec.added) {
    if (a.content.empty()) continue;
    pieces_[a.id] = a.content;
    bytes_[a.id] = a.content;
    added_.push_back(a);
  }
  // Longest first, so that a token that is a prefix of another never wins over it.
  std::stable_sort(added_.begin(), added_.end(),
                   [](const AddedToken& x, const AddedToken& y) { return x.content.size() > y.content.size(); });
}

std::vector<int32_t> ByteLevelBpe::encode(std::string_view text, const EncodeOptions& opt) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (opt.add_bos && bos_ >= 0) out.push_back(bos_);
  // Added tokens split the text first; special ones only when the caller asks for them.
  bool any = false;
  for (const auto& a : added_) any = any || !a.special || opt.parse_special;
  size_t start = 0, i = 0;
  while (any && i < text.size()) {
    const AddedToken* hit = nullptr;
    for (const auto& a : added_) {
      if ((a.special && !opt.parse_special) || text.compare(i, a.content.size(), a.content) != 0) continue;
      hit = &a;
      break;
    }
    if (!hit) {
      ++i;
      continue;
    }
    encode_plain(text.substr(start, i - start), out);
    out.push_back(hit->id);
    i += hit->content.size();
    start = i;
  }
  encode_plain(text.substr(start), out);
  return out;
}

void ByteLevelBpe::encode_plain(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::string prefixed;
  if (add_prefix_space_ && text[0] != ' ') {
    prefixed.reserve(text.size() + 1);
    prefixed.push_back(' ');
    prefixed.append(text);
    text = prefixed;
  }
  std::vector<std::string_view> words;
  split_gpt2(text, words);
  for (auto w : words) encode_word(w, out);
}

void ByteLevelBpe::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() == 1) {
    out.push_back(byte_id_[static_cast<unsigned char>(word[0])]);
    return;
  }
  if (ignore_merges_) {
    if (auto it = whole_.find(word); it != whole_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWord;
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (auto it = cache_.find(word); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t before = out.size();
  merge_word(word, out);
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (cache_.size() >= kMaxCacheEntries) cache_.clear();
    cache_.emplace(std::string(word), std::vector<int32_t>(out.begin() + before, out.end()));
  }
}

// Applies merges lowest rank first (leftmost first among equal ranks) over a linked list of
// symbols with a heap of candidate pairs: O(n log n), so a 10 MB word is no problem.
void ByteLevelBpe::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  const int n = static_cast<int>(word.size());
  struct Sym {
    int32_t id;
    int prev, next;
    bool alive;
  };
  std::vector<Sym> sym(n);
  for (int i = 0; i < n; ++i) sym[i] = {byte_id_[static_cast<unsigned char>(word[i])], i - 1, i + 1 < n ? i + 1 : -1, true};
  struct Cand {
    int32_t rank;
    int left;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<>> heap;
  auto push = [&](int left) {
    if (left < 0 || sym[left].next < 0) return;
    auto it = merges_.find(pair_key(sym[left].id, sym[sym[left].next].id));
    if (it != merges_.end()) heap.push({it->second.rank, left});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    Sym& l = sym[c.left];
    if (!l.alive || l.next < 0) continue;
    auto it = merges_.find(pair_key(l.id, sym[l.next].id));
    if (it == merges_.end() || it->second.rank != c.rank) continue;  // stale candidate
    Sym& r = sym[l.next];
    l.id = it->second.id;
    r.alive = false;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = c.left;
    push(l.prev);
    push(c.left);
  }
  for (int i = 0; i >= 0 && i < n; i = sym[i].next) out.push_back(sym[i].id);
}

std::string ByteLevelBpe::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) fail("decode", "token id " + std::to_string(id) + " is outside the vocabulary");
    out += bytes_[id];
  }
  return out;
}

std::string ByteLevelBpe::piece(int32_t id) const {
  if (id < 0 || id >= vocab_size()) fail("piece", "token id " + std::to_string(id) + " is outside the vocabulary");
  return pieces_[id];
}

}  // namespace layerlab::tok
