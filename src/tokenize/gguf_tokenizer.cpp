// The tokenizer stored in a GGUF file (tokenizer.ggml.*), as llama.cpp's converter writes it.
//   llama: SentencePiece pieces / scores / token types. The file holds everything a
//          SentencePiece BPE model is made of but its normalizer, which llama.cpp fixes (no
//          NFKC, "▁" for spaces, a leading "▁" unless add_space_prefix is false), so a
//          ModelProto is built in memory and libsentencepiece runs it: the reference algorithm
//          (score-ordered merges, byte fallback, user-defined and control pieces) instead of a
//          second implementation of it.
//   gpt2:  byte-level BPE from tokens + merges (ByteLevelBpe, the GPT-2 pre-tokenizer).
#include <set>

#include "layerlab/error.h"
#include "layerlab/gguf.h"
#include "tokenize/bpe.h"
#include "tokenize/families.h"
#include "tokenize/sp_proto.h"
#include "util/json_read.h"

namespace layerlab::tok {

namespace {

constexpr int64_t kMaxVocab = int64_t(1) << 24;

int32_t id_key(const GgufFile& f, const std::string& key, int32_t fallback, size_t vocab) {
  const int64_t id = f.get_int_or(key, fallback, -1, kMaxVocab);
  if (id >= int64_t(vocab)) f.bad(key, "token " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(vocab));
  return int32_t(id);
}

std::vector<int32_t> token_types(const GgufFile& f, size_t n) {
  const std::string key = "tokenizer.ggml.token_type";
  if (!f.has(key)) return std::vector<int32_t>(n, 1);
  auto types = f.get_i32_array(key, 1, 6);
  if (types.size() != n) f.bad(key, std::to_string(types.size()) + " entries for " + std::to_string(n) + " tokens");
  return types;
}

std::unique_ptr<Tokenizer> llama_tokenizer(const GgufFile& f, const std::vector<std::string>& tokens) {
  SpModelSpec s;
  s.pieces = tokens;
  const size_t n = tokens.size();
  if (f.has("tokenizer.ggml.scores")) {
    s.scores = f.get_f32_array("tokenizer.ggml.scores");
    if (s.scores.size() != n)
      f.bad("tokenizer.ggml.scores", std::to_string(s.scores.size()) + " entries for " + std::to_string(n) + " tokens");
  } else {
    s.scores.assign(n, 0.0f);
  }
  s.types = token_types(f, n);
  std::set<std::string_view> seen;
  for (size_t i = 0; i < n; ++i) {
    if (tokens[i].empty()) f.bad("tokenizer.ggml.tokens", "token " + std::to_string(i) + " is empty");
    if (!seen.insert(tokens[i]).second)
      f.bad("tokenizer.ggml.tokens", "token " + std::to_string(i) + " ('" + clip(tokens[i]) + "') appears twice");
  }
  s.unk_id = id_key(f, "tokenizer.ggml.unknown_token_id", 0, n);
  s.bos_id = id_key(f, "tokenizer.ggml.bos_token_id", 1, n);
  s.eos_id = id_key(f, "tokenizer.ggml.eos_token_id", 2, n);
  s.pad_id = id_key(f, "tokenizer.ggml.padding_token_id", -1, n);
  if (s.unk_id < 0) f.bad("tokenizer.ggml.unknown_token_id", "SentencePiece needs an unknown token");
  // libsentencepiece insists on these types (its model checks would otherwise be the error).
  if (s.types[size_t(s.unk_id)] != 2)
    f.bad("tokenizer.ggml.token_type", "the unknown token " + std::to_string(s.unk_id) + " is not of type 2 (unknown)");
  s.byte_fallback = false;
  for (int32_t t : s.types) s.byte_fallback = s.byte_fallback || t == 6;
  s.add_dummy_prefix = f.get_bool_or("tokenizer.ggml.add_space_prefix", true);
  s.remove_extra_whitespaces = f.get_bool_or("tokenizer.ggml.remove_extra_whitespaces", false);
  // llama.cpp's defaults for SentencePiece vocabularies: BOS yes, EOS no.
  const bool add_bos = f.get_bool_or("tokenizer.ggml.add_bos_token", true);
  const bool add_eos = f.get_bool_or("tokenizer.ggml.add_eos_token", false);
  return make_sentencepiece_from_proto(f.path() + ": tokenizer.ggml", serialize_sp_model(s), add_bos, add_eos);
}

std::unique_ptr<Tokenizer> gpt2_tokenizer(const GgufFile& f, const std::vector<std::string>& tokens) {
  const std::string pre = f.get_string_or("tokenizer.ggml.pre", "gpt-2");
  if (pre != "gpt-2" && pre != "default")
    f.bad("tokenizer.ggml.pre", "pre-tokenizer '" + clip(pre) + "' is not supported (only GPT-2's: gpt-2, default)");
  BpeSpec spec;
  spec.source = f.path() + ": tokenizer.ggml";
  const auto types = token_types(f, tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!spec.vocab.emplace(tokens[i], int32_t(i)).second)
      f.bad("tokenizer.ggml.tokens", "token " + std::to_string(i) + " ('" + clip(tokens[i]) + "') appears twice");
    // Control tokens (<|endoftext|>) are special: matched in text only with parse_special;
    // user-defined ones always.
    if (types[i] == 3 || types[i] == 4) spec.added.push_back({tokens[i], int32_t(i), types[i] == 3});
  }
  for (const auto& m : f.get_strings("tokenizer.ggml.merges")) {
    const size_t sp = m.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 == m.size())
      f.bad("tokenizer.ggml.merges", "merge '" + clip(m) + "' is not two pieces separated by a space");
    spec.merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
  }
  spec.bos = id_key(f, "tokenizer.ggml.bos_token_id", -1, tokens.size());
  spec.eos = id_key(f, "tokenizer.ggml.eos_token_id", -1, tokens.size());
  spec.add_prefix_space = f.get_bool_or("tokenizer.ggml.add_space_prefix", false);
  return std::make_unique<ByteLevelBpe>(std::move(spec));
}

}  // namespace

std::unique_ptr<Tokenizer> make_gguf_tokenizer(const std::string& path) {
  const GgufFile f(path);
  const std::string model = f.get_string("tokenizer.ggml.model");
  const auto& tokens = f.get_strings("tokenizer.ggml.tokens");
  if (tokens.empty() || int64_t(tokens.size()) > kMaxVocab)
    f.bad("tokenizer.ggml.tokens", std::to_string(tokens.size()) + " tokens (expected 1 to 2^24)");
  if (model == "llama") return llama_tokenizer(f, tokens);
  if (model == "gpt2") return gpt2_tokenizer(f, tokens);
  f.bad("tokenizer.ggml.model", "unsupported tokenizer model '" + clip(model) + "' (supported: llama, gpt2)");
}

}  // namespace layerlab::tok
