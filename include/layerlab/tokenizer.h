#pragma once
// Tokenizers of the supported model families, loaded from a Hugging Face model folder:
// GPT-2 byte-level BPE, Llama SentencePiece and BERT WordPiece. See docs/TOKENIZERS.md.
// Every tokenizer is immutable after loading and safe to use from several threads.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace layerlab {

// Options that do not apply to a family are ignored by it.
struct EncodeOptions {
  bool add_bos = false;        // Llama: prepend BOS
  bool add_special = false;    // BERT: wrap in [CLS] ... [SEP]
  bool parse_special = false;  // GPT-2: treat "<|endoftext|>" etc. in the text as special tokens
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string family() const = 0;  // "gpt2-bpe", "sentencepiece", "wordpiece"
  // Never fails: any bytes (invalid UTF-8 included) give a defined result (docs/TOKENIZERS.md).
  virtual std::vector<int32_t> encode(std::string_view text, const EncodeOptions& opt = {}) const = 0;
  // Text of the ids (WordPiece: best effort join). Error for an id outside the vocabulary.
  virtual std::string decode(std::span<const int32_t> ids) const = 0;
  virtual std::string piece(int32_t id) const = 0;  // the raw vocabulary piece for display
  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 if none
  virtual int32_t eos_id() const = 0;  // -1 if none (GPT-2: <|endoftext|> 50256; Llama: 2; BERT: [SEP])
};

// Picks the family from the files in a Hugging Face model folder: tokenizer.json (GPT-2 style
// byte-level BPE), vocab.json+merges.txt, tokenizer.model, vocab.txt. Error naming the folder
// if none is usable. A GGUF file's path gives its tokenizer.ggml.* tokenizer (llama:
// SentencePiece, gpt2: byte-level BPE; its add_bos_token = false stops add_bos, and
// add_eos_token appends EOS whenever BOS is added).
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model_dir);

// Copies the tokenizer files of `from` (those load_tokenizer reads, where present) into the
// folder `to`, each written atomically: a model folder made by `layerlab train` then carries
// its tokenizer. Returns the names copied.
std::vector<std::string> copy_tokenizer_files(const std::string& from, const std::string& to);

}  // namespace layerlab
