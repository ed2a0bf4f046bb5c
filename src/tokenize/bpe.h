#pragma once
// GPT-2 byte-level BPE: every byte of the text maps to one of 256 printable characters
// (bytes_to_unicode), pre-tokenized pieces are merged by merge rank, and decoding maps the
// characters back to bytes, so decode(encode(x)) == x for any bytes.
#include <array>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "layerlab/tokenizer.h"

namespace layerlab::tok {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringIdMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// The 256 byte <-> character map of GPT-2 (printable bytes map to themselves).
const std::array<char32_t, 256>& byte_to_unicode();

struct AddedToken {
  std::string content;
  int32_t id;
  bool special;  // special tokens are matched only with parse_special
};

// Everything a byte-level BPE tokenizer is made of, as read from the model folder.
struct BpeSpec {
  StringIdMap vocab;                                    // piece (byte-level characters) -> id
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  std::vector<AddedToken> added;
  bool ignore_merges = false;     // tokenizer.json: a piece found whole in the vocab is kept
  bool add_prefix_space = false;  // tokenizer.json ByteLevel option
  int32_t bos = -1, eos = -1;
  std::string source;  // file(s) it came from, for error messages
};

class ByteLevelBpe final : public Tokenizer {
 public:
  explicit ByteLevelBpe(BpeSpec spec);
  std::string family() const override { return "gpt2-bpe"; }
  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& opt = {}) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  std::string piece(int32_t id) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  int32_t bos_id() const override { return bos_; }
  int32_t eos_id() const override { return eos_; }

 private:
  void encode_plain(std::string_view text, std::vector<int32_t>& out) const;
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;

  struct Merge {
    int32_t rank, id;
  };
  std::vector<std::string> pieces_;  // id -> raw piece ("" for unused ids)
  std::vector<std::string> bytes_;   // id -> the bytes it decodes to
  std::array<int32_t, 256> byte_id_{};
  std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) -> merge
  StringIdMap whole_;                           // raw bytes -> id, only with ignore_merges
  std::vector<AddedToken> added_;               // longest first
  bool ignore_merges_, add_prefix_space_;
  int32_t bos_, eos_;

  // Merging is the slow part and words repeat, so results are cached (bounded size).
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

// vocab.json + merges.txt (+ tokenizer_config.json for added tokens, when present).
BpeSpec read_vocab_merges(const std::string& dir);
// tokenizer.json with a BPE model and a ByteLevel pre-tokenizer; Error if it is another kind.
BpeSpec read_bpe_tokenizer_json(const std::string& path);
// True if tokenizer.json describes a byte-level BPE tokenizer that read_bpe_tokenizer_json takes.
bool is_byte_level_bpe_json(const std::string& path);

}  // namespace layerlab::tok
