#pragma once
// Constructors of the three tokenizer families, used by load_tokenizer (load.cpp).
#include <memory>
#include <string>

#include "layerlab/tokenizer.h"

namespace layerlab::tok {

std::unique_ptr<Tokenizer> make_sentencepiece(const std::string& model_path);
// A serialized ModelProto (sp_proto.h); add_bos: the file allows BOS (EncodeOptions.add_bos
// then adds it), add_eos: EOS follows the text when BOS is added.
std::unique_ptr<Tokenizer> make_sentencepiece_from_proto(const std::string& where, const std::string& serialized,
                                                         bool add_bos, bool add_eos);
// tokenizer.ggml.* of a GGUF file: model "llama" (SentencePiece) or "gpt2" (byte-level BPE).
std::unique_ptr<Tokenizer> make_gguf_tokenizer(const std::string& path);
// vocab.txt; bert-base-uncased lower-cases and strips accents.
std::unique_ptr<Tokenizer> make_wordpiece(const std::string& vocab_path, bool lowercase, bool strip_accents);

}  // namespace layerlab::tok
