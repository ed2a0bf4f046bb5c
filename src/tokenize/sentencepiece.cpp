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
  // A model built in memory (GGUF: tokenizer.ggml.*); `where` names its source in errors.
  SentencePiece(const std::string& where, const std::string& serialized, bool bos_allowed, bool add_eos)
      : path_(where), bos_allowed_(bos_allowed), add_eos_(add_eos) {
    const auto st = sp_.LoadFromSerializedProto(serialized);
    if (!st.ok()) fail(where, "cannot build the SentencePiece model: " + st.ToString());
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
    const bool special = opt.add_bos && bos_allowed_;
    if (special && sp_.bos_id() >= 0) out.push_back(sp_.bos_id());
    out.insert(out.end(), ids.begin(), ids.end());
    if (special && add_eos_ && sp_.eos_id() >= 0) out.push_back(sp_.eos_id());
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
  bool bos_allowed_ = true;  // GGUF add_bos_token: false means BOS is never added
  bool add_eos_ = false;     // GGUF add_eos_token: EOS after the text whenever BOS is asked for
  sentencepiece::SentencePieceProcessor sp_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_sentencepiece(const std::string& model_path) {
  return std::make_unique<SentencePiece>(model_path);
}

std::unique_ptr<Tokenizer> make_sentencepiece_from_proto(const std::string& where, const std::string& serialized,
                                                         bool add_bos, bool add_eos) {
  return std::make_unique<SentencePiece>(where, serialized, add_bos, add_eos);
}

}  // namespace layerlab::tok
