#pragma once
// BERT's "basic tokenizer" as Hugging Face tokenizers runs it (BertNormalizer followed by
// BertPreTokenizer): clean the text, space out CJK ideographs, optionally strip accents
// (NFD, drop Mn) and lower-case, then split on white space and around punctuation.
#include <string>
#include <string_view>
#include <vector>

namespace layerlab::tok {

// Appends the words of `text` (UTF-8) to `words`. Invalid UTF-8 bytes become U+FFFD, which
// the cleaning step removes like the reference removes U+FFFD and control characters.
void bert_basic_split(std::string_view text, bool lowercase, bool strip_accents, std::vector<std::string>& words);

}  // namespace layerlab::tok
