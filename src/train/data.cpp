// Training text -> one token stream (documents separated by the end-of-text token).

#include "layerlab/documents.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/tokenizer.h"
#include "layerlab/train.h"

namespace layerlab::train {

TokenStream load_token_stream(const std::string& path, const std::string& tokenizer_dir) {
  const auto tok = load_tokenizer(tokenizer_dir);
  TokenStream s;
  s.path = path;
  const auto docs = read_text_documents(path);
  std::vector<std::vector<int32_t>> ids(docs.size());
  // Tokenizers are immutable and thread-safe (tokenizer.h).
#pragma omp parallel for schedule(dynamic)
  for (size_t i = 0; i < docs.size(); ++i) ids[i] = tok->encode(docs[i]);
  const int32_t eos = tok->eos_id();
  for (auto& d : ids) {
    if (d.empty()) continue;
    s.tokens.insert(s.tokens.end(), d.begin(), d.end());
    if (eos >= 0) s.tokens.push_back(eos);
    ++s.documents;
  }
  if (s.tokens.empty()) fail(path, "no tokens (empty file or no non-empty 'text')");
  return s;
}

}  // namespace layerlab::train
