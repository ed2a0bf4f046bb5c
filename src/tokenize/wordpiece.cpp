// BERT WordPiece from vocab.txt: greedy longest match with "##" continuation pieces.
#include <sstream>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "tokenize/bert_basic.h"
#include "tokenize/bpe.h"
#include "tokenize/families.h"
#include "tokenize/unicode.h"

namespace layerlab::tok {

namespace {

constexpr size_t kMaxCharsPerWord = 100;  // longer words become [UNK], as in BERT

size_t count_chars(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
}

class WordPiece final : public Tokenizer {
 public:
  WordPiece(const std::string& path, bool lowercase, bool strip_accents)
      : lowercase_(lowercase), strip_accents_(strip_accents) {
    std::istringstream in(read_text_file(path));
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      vocab_.emplace(line, static_cast<int32_t>(pieces_.size()));  // first occurrence wins
      pieces_.push_back(line);
    }
    unk_ = lookup("[UNK]");
    cls_ = lookup("[CLS]");
    sep_ = lookup("[SEP]");
    if (unk_ < 0) fail(path, "the vocabulary has no [UNK] token");
  }

  std::string family() const override { return "wordpiece"; }

  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& opt) const override {
    std::vector<std::string> words;
    bert_basic_split(text, lowercase_, strip_accents_, words);
    std::vector<int32_t> out;
    out.reserve(words.size() + 2);
    if (opt.add_special && cls_ >= 0) out.push_back(cls_);
    std::string buf;
    std::vector<int32_t> pieces;
    for (const auto& w : words) {
      pieces.clear();
      if (count_chars(w) > kMaxCharsPerWord || !split_word(w, buf, pieces)) out.push_back(unk_);
      else out.insert(out.end(), pieces.begin(), pieces.end());
    }
    if (opt.add_special && sep_ >= 0) out.push_back(sep_);
    return out;
  }

  // Best effort: pieces joined by spaces, "##" pieces glued on, [CLS]/[SEP]/[PAD] dropped and
  // the spaces before punctuation removed as the reference's WordPiece decoder does.
  std::string decode(std::span<const int32_t> ids) const override {
    std::string out;
    for (int32_t id : ids) {
      const std::string& p = pieces_[check(id)];
      if (p == "[CLS]" || p == "[SEP]" || p == "[PAD]") continue;
      if (p.rfind("##", 0) == 0) {
        out += p.substr(2);
      } else {
        if (!out.empty()) out += ' ';
        out += p;
      }
    }
    for (auto [from, to] : {std::pair{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
                            {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}})
      replace_all(out, from, to);
    return out;
  }

  std::string piece(int32_t id) const override { return pieces_[check(id)]; }
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  int32_t bos_id() const override { return cls_; }
  int32_t eos_id() const override { return sep_; }

 private:
  int32_t lookup(std::string_view p) const {
    auto it = vocab_.find(p);
    return it == vocab_.end() ? -1 : it->second;
  }
  int32_t check(int32_t id) const {
    if (id < 0 || id >= vocab_size()) fail("decode", "token id " + std::to_string(id) + " is outside the vocabulary");
    return id;
  }

  // Greedy longest match from the left; false if some position matches nothing.
  bool split_word(const std::string& w, std::string& buf, std::vector<int32_t>& out) const {
    size_t start = 0;
    while (start < w.size()) {
      size_t end = w.size();
      int32_t found = -1;
      while (end > start) {
        buf.assign(start > 0 ? "##" : "");
        buf.append(w, start, end - start);
        found = lookup(buf);
        if (found >= 0) break;
        do --end;  // step back one whole UTF-8 character
        while (end > start && (static_cast<unsigned char>(w[end]) & 0xC0) == 0x80);
      }
      if (found < 0) return false;
      out.push_back(found);
      start = end;
    }
    return true;
  }

  bool lowercase_, strip_accents_;
  StringIdMap vocab_;
  std::vector<std::string> pieces_;
  int32_t unk_, cls_, sep_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_wordpiece(const std::string& vocab_path, bool lowercase, bool strip_accents) {
  return std::make_unique<WordPiece>(vocab_path, lowercase, strip_accents);
}

}  // namespace layerlab::tok
