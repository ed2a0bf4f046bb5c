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

void add_prompt_options(Options& o, PromptArgs& p) {
  o.text("--prompt", p.prompt, "TEXT", "the input text, tokenized with the model folder's tokenizer (or --ids)",
         "none; give --prompt or --ids");
  o.text("--ids", p.ids, "IDS", "the input as comma-separated token ids, e.g. 464,2068,7586 (or --prompt)",
         "none; give --prompt or --ids");
}

void check_prompt_args(const Options& o) {
  if (o.given("--prompt") == o.given("--ids")) fail("--prompt", "give exactly one of --prompt TEXT or --ids 1,2,3");
}

std::string decode_text(const Model& model, const std::vector<int32_t>& ids) { return tokenizer_of(model).decode(ids); }

std::vector<int32_t> prompt_ids(const Options& o, const PromptArgs& p, const Model& model) {
  check_prompt_args(o);
  if (o.given("--ids")) return parse_ids(p.ids, "--ids", model.config().vocab);
  std::vector<int32_t> ids = encode(model, p.prompt, true);
  if (ids.empty()) fail("--prompt", "the prompt has no tokens");
  return ids;
}

void add_sequence_options(Options& o, SequenceArgs& s) {
  o.text("--text-file", s.text_file, "FILE", "texts: plain text (one document) or .jsonl with a 'text' field",
         "none; give --text-file or --ids-file");
  o.text("--ids-file", s.ids_file, "FILE", "token ids instead: one comma-separated list per line",
         "none; give --text-file or --ids-file");
  o.integer("--max-tokens", s.max_tokens, "tokens per window (documents are cut into windows)", 2, INT32_MAX,
            "512, or the model's context if shorter");
  o.integer("--limit", s.limit, "use only the first K windows", 1, INT32_MAX, "all");
}

void check_sequence_args(const Options& o) {
  if (o.given("--text-file") == o.given("--ids-file"))
    fail("--text-file", "give exactly one of --text-file F (text or .jsonl) or --ids-file F");
}

std::vector<std::vector<int32_t>> sequences_from_files(const SequenceArgs& s, const Model& model, int max_tokens) {
  const int limit = s.limit;
  std::vector<std::vector<int32_t>> docs;
  std::string path;
  if (!s.ids_file.empty()) {
    path = s.ids_file;
    std::istringstream in(read_text_file(path));
    std::string line;
    for (int no = 1; std::getline(in, line) && (limit <= 0 || static_cast<int>(docs.size()) < limit); ++no)
      if (line.find_first_not_of(" \t\r") != std::string::npos)
        docs.push_back(parse_ids(line, path + ":" + std::to_string(no), model.config().vocab));
  } else {
    path = s.text_file;
    for (const auto& t : read_text_documents(path, limit)) docs.push_back(encode(model, t, true));
  }
  std::vector<std::vector<int32_t>> windows;
  for (const auto& d : docs)
    for (size_t i = 0; i < d.size() && (limit <= 0 || static_cast<int>(windows.size()) < limit); i += max_tokens)
      windows.emplace_back(d.begin() + i, d.begin() + std::min(d.size(), i + size_t(max_tokens)));
  if (windows.empty()) fail(path, "no tokens (the file is empty)");
  return windows;
}

}  // namespace layerlab::cli
