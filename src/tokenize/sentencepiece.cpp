// Llama's SentencePiece tokenizer through Debian's libsentencepiece (the reference itself).
#include <sentencepiece_processor.h>

#include "layerlab/error.h"
#include "tokenize/families.h"

namespace layerlab::tok {

namespace {

class SentencePiece final : public Tokenizer {
 public:
  explicit SentencePiece(const std::string& path) : path_(path) {
    const auto st = sp_.Load(path);
    if (!st.ok()) fail(path, "cannot load the SentencePiece model: " + st.ToString());
  }
  std::string family() const override { return "sentencepiece"; }

  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& opt) const override {
    std::vector<int> ids;
    // The library replaces invalid UTF-8 by U+FFFD (which Llama's byte fallback spells as
    // its three bytes); it reports no error for any input we can give it.
    const auto st = sp_.Encode(text, &ids);
    if (!st.ok()) fail(path_, "SentencePiece encode failed: " + st.ToString());
    std::vector<int32_t> out;
    out.reserve(ids.size() + 1);
    if (opt.add_bos && sp_.bos_id() >= 0) out.push_back(sp_.bos_id());
    out.insert(out.end(), ids.begin(), ids.end());
    return out;
  }

  std::string decode(std::span<const int32_t> ids) const override {
    std::vector<int> v;
    v.reserve(ids.size());
    for (int32_t id : ids) v.push_back(check(id));
    std::string out;
    const auto st = sp_.Decode(v, &out);
    if (!st.ok()) fail(path_, "SentencePiece decode failed: " + st.ToString());
    return out;
  }

  std::string piece(int32_t id) const override { return sp_.IdToPiece(check(id)); }
  int32_t vocab_size() const override { return sp_.GetPieceSize(); }
  int32_t bos_id() const override { return sp_.bos_id(); }
  int32_t eos_id() const override { return sp_.eos_id(); }

 private:
  int32_t check(int32_t id) const {
    if (id < 0 || id >= vocab_size()) fail("decode", "token id " + std::to_string(id) + " is outside the vocabulary");
    return id;
  }
  std::string path_;
  sentencepiece::SentencePieceProcessor sp_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_sentencepiece(const std::string& model_path) {
  return std::make_unique<SentencePiece>(model_path);
}

}  // namespace layerlab::tok
