#pragma once
// The reference ids of ../shared/golden/tokenizer_golden.json (Hugging Face tokenizers and
// sentencepiece, see its "note"): the only source of expected ids in these tests.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "golden.h"
#include "layerlab/fs.h"

namespace layerlab::testing {

struct TokenizerGolden {
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> gpt2, llama2, bert_uncased;
};

inline const TokenizerGolden& tokenizer_golden() {
  static const TokenizerGolden g = [] {
    const auto j = nlohmann::json::parse(read_text_file(shared_dir() + "/golden/tokenizer_golden.json"));
    TokenizerGolden t;
    t.texts = j["texts"].get<std::vector<std::string>>();
    t.gpt2 = j["gpt2"].get<std::vector<std::vector<int32_t>>>();
    t.llama2 = j["llama2"].get<std::vector<std::vector<int32_t>>>();
    t.bert_uncased = j["bert_uncased"].get<std::vector<std::vector<int32_t>>>();
    return t;
  }();
  return g;
}

}  // namespace layerlab::testing
