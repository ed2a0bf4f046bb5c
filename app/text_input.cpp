#include "text_input.h"

#include <sstream>

#include "layerlab/documents.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "model_args.h"
#include "layerlab/tokenizer.h"

namespace layerlab::cli {

namespace {

const Tokenizer& tokenizer_of(const Model& model) {
  static std::unique_ptr<Tokenizer> tok;
  static std::string dir;
  if (!tok || dir != model.dir()) {
    tok = load_tokenizer(model.dir());
    dir = model.dir();
  }
  return *tok;
}

std::vector<int32_t> encode(const Model& model, const std::string& text, bool add_bos) {
  const Tokenizer& tok = tokenizer_of(model);
  EncodeOptions opt;
  opt.add_bos = add_bos && model.config().family == "llama";
  opt.add_special = model.config().family == "bert";
  return tok.encode(text, opt);
}


}  // namespace

std::string decode_text(const Model& model, const std::vector<int32_t>& ids) { return tokenizer_of(model).decode(ids); }

std::vector<int32_t> prompt_ids(const Args& args, const Model& model) {
  if (args.has("prompt") == args.has("ids")) fail("--prompt", "give exactly one of --prompt TEXT or --ids 1,2,3");
  if (args.has("ids")) return parse_ids(args.get("ids"));
  std::vector<int32_t> ids = encode(model, args.get("prompt"), true);
  if (ids.empty()) fail("--prompt", "the prompt has no tokens");
  return ids;
}

std::vector<std::vector<int32_t>> sequences_from_files(const Args& args, const Model& model, int max_tokens,
                                                       int limit) {
  if (max_tokens < 2) fail("--max-tokens", "must be at least 2");
  std::vector<std::vector<int32_t>> docs;
  if (args.has("ids-file")) {
    std::istringstream in(read_text_file(args.get("ids-file")));
    std::string line;
    while (std::getline(in, line) && (limit <= 0 || static_cast<int>(docs.size()) < limit))
      if (line.find_first_not_of(" \t\r") != std::string::npos) docs.push_back(parse_ids(line));
  } else if (args.has("text-file")) {
    for (const auto& t : read_text_documents(args.get("text-file"), limit)) docs.push_back(encode(model, t, true));
  } else {
    fail("--text-file", "give --text-file F (text or .jsonl) or --ids-file F");
  }
  std::vector<std::vector<int32_t>> windows;
  for (const auto& d : docs)
    for (size_t i = 0; i < d.size() && (limit <= 0 || static_cast<int>(windows.size()) < limit); i += max_tokens)
      windows.emplace_back(d.begin() + i, d.begin() + std::min(d.size(), i + size_t(max_tokens)));
  return windows;
}

}  // namespace layerlab::cli
