// Tokenizers across formats for export: Hugging Face tokenizer files -> tokenizer.ggml.* as
// llama.cpp's converter writes them (SentencePiece pieces / scores / types; GPT-2 tokens +
// merges), and back: tokenizer.model or vocab.json + merges.txt from a GGUF file.
#include <sentencepiece_processor.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "model/export_internal.h"
#include "tokenize/sp_proto.h"

namespace layerlab::exporting {

namespace {

enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// The converter's _create_vocab_sentencepiece: piece, score and type per id, padded with
// [PADi] (unused) up to the config's vocabulary.
void sentencepiece_metadata(const std::string& path, const ModelConfig& c, GgufMeta& meta) {
  sentencepiece::SentencePieceProcessor sp;
  const auto st = sp.Load(path);
  if (!st.ok()) fail(path, "cannot read the SentencePiece model: " + st.ToString());
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (int i = 0; i < sp.GetPieceSize(); ++i) {
    tokens.push_back(sp.IdToPiece(i));
    scores.push_back(sp.GetScore(i));
    types.push_back(sp.IsUnknown(i) ? kUnknown : sp.IsControl(i) ? kControl : sp.IsUnused(i) ? kUnused
                                                                  : sp.IsByte(i)   ? kByte : kNormal);
  }
  for (int i = int(tokens.size()); i < c.vocab; ++i) {
    tokens.push_back("[PAD" + std::to_string(i) + "]");
    scores.push_back(-1000.0f);
    types.push_back(kUnused);
  }
  meta.emplace_back("tokenizer.ggml.model", gguf_str("llama"));
  meta.emplace_back("tokenizer.ggml.pre", gguf_str("default"));
  meta.emplace_back("tokenizer.ggml.tokens", gguf_strings(tokens));
  meta.emplace_back("tokenizer.ggml.scores", gguf_f32s(scores));
  meta.emplace_back("tokenizer.ggml.token_type", gguf_i32s(types));
}

// GPT-2's byte-level BPE: tokens by id, <|endoftext|> and other special added tokens control.
void bpe_metadata(const std::vector<std::string>& tokens, const std::vector<int32_t>& types,
                  const std::vector<std::string>& merges, GgufMeta& meta) {
  meta.emplace_back("tokenizer.ggml.model", gguf_str("gpt2"));
  meta.emplace_back("tokenizer.ggml.pre", gguf_str("gpt-2"));
  meta.emplace_back("tokenizer.ggml.tokens", gguf_strings(tokens));
  meta.emplace_back("tokenizer.ggml.token_type", gguf_i32s(types));
  meta.emplace_back("tokenizer.ggml.merges", gguf_strings(merges));
}

void place(std::vector<std::string>& tokens, const std::string& piece, int64_t id, const std::string& where) {
  if (id < 0 || id >= int64_t(tokens.size())) fail(where, "token '" + piece + "' has id " + std::to_string(id) +
                                                              ", outside the vocabulary of " + std::to_string(tokens.size()));
  tokens[size_t(id)] = piece;
}

}  // namespace

void hf_tokenizer_metadata(const std::string& dir, const ModelConfig& c, GgufMeta& meta, ExportResult& r) {
  if (file_exists(dir + "/tokenizer.model")) {
    sentencepiece_metadata(dir + "/tokenizer.model", c, meta);
  } else if (file_exists(dir + "/vocab.json") && file_exists(dir + "/merges.txt")) {
    const auto vocab = nlohmann::json::parse(read_text_file(dir + "/vocab.json"));
    std::vector<std::string> tokens(size_t(c.vocab));
    for (const auto& [piece, id] : vocab.items()) place(tokens, piece, id.get<int64_t>(), dir + "/vocab.json");
    std::vector<std::string> merges;
    std::ifstream in(dir + "/merges.txt");
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && line.rfind("#version", 0) != 0) merges.push_back(line);
    std::vector<int32_t> types(tokens.size(), kNormal);
    for (size_t i = 0; i < tokens.size(); ++i)
      if (tokens[i].empty()) tokens[i] = "[PAD" + std::to_string(i) + "]", types[i] = kUnused;
      else if (tokens[i] == "<|endoftext|>") types[i] = kControl;
    bpe_metadata(tokens, types, merges, meta);
  } else if (file_exists(dir + "/tokenizer.json") && c.family == "gpt2") {
    const std::string path = dir + "/tokenizer.json";
    const auto j = nlohmann::json::parse(read_text_file(path));
    std::vector<std::string> tokens(size_t(c.vocab));
    std::vector<int32_t> types(tokens.size(), kNormal);
    for (const auto& [piece, id] : j.at("model").at("vocab").items()) place(tokens, piece, id.get<int64_t>(), path);
    if (j.contains("added_tokens"))
      for (const auto& t : j["added_tokens"]) {
        place(tokens, t.at("content").get<std::string>(), t.at("id").get<int64_t>(), path);
        types[t["id"].get<size_t>()] = t.value("special", false) ? kControl : kUserDefined;
      }
    std::vector<std::string> merges;
    for (const auto& m : j.at("model").at("merges"))
      merges.push_back(m.is_string() ? m.get<std::string>() : m.at(0).get<std::string>() + " " + m.at(1).get<std::string>());
    for (size_t i = 0; i < tokens.size(); ++i)
      if (tokens[i].empty()) tokens[i] = "[PAD" + std::to_string(i) + "]", types[i] = kUnused;
    bpe_metadata(tokens, types, merges, meta);
  } else {
    r.notes.push_back("no tokenizer written: " + dir + " has no tokenizer.model, vocab.json + merges.txt or (gpt2) "
                      "tokenizer.json; llama.cpp needs tokenizer.ggml.* to run the file");
    return;
  }
  meta.emplace_back("tokenizer.ggml.bos_token_id", gguf_u32(uint32_t(c.bos_id)));
  meta.emplace_back("tokenizer.ggml.eos_token_id", gguf_u32(uint32_t(c.eos_id)));
  // SpecialVocab: the tokenizer_config.json switches, when the folder has them.
  if (file_exists(dir + "/tokenizer_config.json")) {
    const auto tc = nlohmann::json::parse(read_text_file(dir + "/tokenizer_config.json"));
    for (const char* key : {"add_bos_token", "add_eos_token"})
      if (tc.contains(key) && tc[key].is_boolean()) meta.emplace_back(std::string("tokenizer.ggml.") + key, gguf_bool(tc[key].get<bool>()));
  }
}

void gguf_tokenizer_files(const GgufFile& f, const std::string& dir, ExportResult& r) {
  const std::string model = f.get_string_or("tokenizer.ggml.model", "");
  if (model == "gpt2") {
    const auto& tokens = f.get_strings("tokenizer.ggml.tokens");
    nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
    for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
    write_file_atomic(dir + "/vocab.json", vocab.dump() + "\n");
    std::string merges = "#version: 0.2\n";
    for (const auto& m : f.get_strings("tokenizer.ggml.merges")) merges += m + "\n";
    write_file_atomic(dir + "/merges.txt", merges);
  } else if (model == "llama") {
    tok::SpModelSpec s;
    s.pieces = f.get_strings("tokenizer.ggml.tokens");
    const size_t n = s.pieces.size();
    s.scores = f.has("tokenizer.ggml.scores") ? f.get_f32_array("tokenizer.ggml.scores") : std::vector<float>(n, 0.0f);
    s.types = f.has("tokenizer.ggml.token_type") ? f.get_i32_array("tokenizer.ggml.token_type", 1, 6)
                                                 : std::vector<int32_t>(n, kNormal);
    if (s.scores.size() != n || s.types.size() != n)
      f.bad("tokenizer.ggml.scores", "scores, token types and tokens differ in number");
    s.unk_id = int32_t(f.get_int_or("tokenizer.ggml.unknown_token_id", 0, 0, int64_t(n) - 1));
    s.bos_id = int32_t(f.get_int_or("tokenizer.ggml.bos_token_id", 1, 0, int64_t(n) - 1));
    s.eos_id = int32_t(f.get_int_or("tokenizer.ggml.eos_token_id", 2, 0, int64_t(n) - 1));
    s.pad_id = int32_t(f.get_int_or("tokenizer.ggml.padding_token_id", -1, -1, int64_t(n) - 1));
    s.byte_fallback = false;
    for (int32_t t : s.types) s.byte_fallback = s.byte_fallback || t == kByte;
    s.add_dummy_prefix = f.get_bool_or("tokenizer.ggml.add_space_prefix", true);
    s.remove_extra_whitespaces = f.get_bool_or("tokenizer.ggml.remove_extra_whitespaces", false);
    write_file_atomic(dir + "/tokenizer.model", tok::serialize_sp_model(s));
  } else {
    r.notes.push_back("no tokenizer files written: " + f.path() + " has " +
                      (model.empty() ? std::string("no tokenizer.ggml.model") : "tokenizer.ggml.model '" + model + "'") +
                      " (supported: llama, gpt2)");
  }
}

}  // namespace layerlab::exporting
