#pragma once
// Constructors of the three tokenizer families, used by load_tokenizer (load.cpp).
#include <memory>
#include <string>

#include "layerlab/tokenizer.h"

namespace layerlab::tok {

std::unique_ptr<Tokenizer> make_sentencepiece(const std::string& model_path);
// vocab.txt; bert-base-uncased lower-cases and strips accents.
std::unique_ptr<Tokenizer> make_wordpiece(const std::string& vocab_path, bool lowercase, bool strip_accents);

}  // namespace layerlab::tok
