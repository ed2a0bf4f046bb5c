// Training text -> one token stream (documents separated by the end-of-text token).
#include <nlohmann/json.hpp>
#include <sstream>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/tokenizer.h"
#include "layerlab/train.h"

namespace layerlab::train {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> read_documents(const std::string& path) {
  const std::string content = read_text_file(path);
  if (!ends_with(path, ".jsonl") && !ends_with(path, ".json")) return {content};
  std::vector<std::string> docs;
  std::istringstream in(content);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail(path + ":" + std::to_string(lineno), std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
      fail(path + ":" + std::to_string(lineno), "expected a JSON object with a string field 'text'");
    docs.push_back(j["text"].get<std::string>());
  }
  return docs;
}

}  // namespace

TokenStream load_token_stream(const std::string& path, const std::string& tokenizer_dir) {
  const auto tok = load_tokenizer(tokenizer_dir);
  TokenStream s;
  s.path = path;
  const auto docs = read_documents(path);
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
