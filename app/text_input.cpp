#include "text_input.h"

#include <sstream>

#include "layerlab/bos_policy.h"
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
  opt.add_bos = add_bos;
  opt.add_special = model.config().family == "bert";
  return tok.encode(text, opt);
}

}  // namespace

void add_bos_options(Options& o, BosArgs& b) {
  o.flag("--add-bos", b.add,
         "put the tokenizer's BOS token before the text, whatever the model's policy (`layerlab info` shows it: "
         "tokenizer_config.json add_bos_token, GGUF tokenizer.ggml.add_bos_token, else Llama yes, GPT-2 no)");
  o.flag("--no-add-bos", b.no, "put no BOS token before the text, whatever the model's policy");
}

void check_bos_args(const Options& o, const std::string& ids_flag) {
  if (o.given("--add-bos") && o.given("--no-add-bos")) fail("--add-bos", "give --add-bos or --no-add-bos, not both");
  for (const char* f : {"--add-bos", "--no-add-bos"})
    if (!ids_flag.empty() && o.given(f)) fail(f, "changes nothing: " + ids_flag + " is used as given");
}

bool resolve_add_bos(const Options& o, const BosArgs& b, const std::string& model_path, const Tokenizer& tok) {
  const BosPolicy p = bos_policy(model_path, tok);
  if (o.given("--add-bos")) {
    if (tok.bos_id() < 0) fail("--add-bos", "changes nothing: the model's tokenizer has no BOS token");
    if (tok.family() == "wordpiece") fail("--add-bos", "changes nothing: BERT's inputs start with [CLS]");
  }
  if (b.add) return true;
  if (b.no) return false;
  return p.add;
}

void add_prompt_options(Options& o, PromptArgs& p) {
  o.text("--prompt", p.prompt, "TEXT", "the input text, tokenized with the model folder's tokenizer (or --ids)",
         "none; give --prompt or --ids");
  o.text("--ids", p.ids, "IDS", "the input as comma-separated token ids, e.g. 464,2068,7586 (or --prompt)",
         "none; give --prompt or --ids");
  add_bos_options(o, p.bos);
}

void check_prompt_args(const Options& o) {
  if (o.given("--prompt") == o.given("--ids")) fail("--prompt", "give exactly one of --prompt TEXT or --ids 1,2,3");
  check_bos_args(o, o.given("--ids") ? "--ids" : "");
}

std::string decode_text(const Model& model, const std::vector<int32_t>& ids) { return tokenizer_of(model).decode(ids); }

std::vector<int32_t> prompt_ids(const Options& o, const PromptArgs& p, const Model& model) {
  check_prompt_args(o);
  if (o.given("--ids")) return parse_ids(p.ids, "--ids", model.config().vocab);
  std::vector<int32_t> ids = encode(model, p.prompt, resolve_add_bos(o, p.bos, model.dir(), tokenizer_of(model)));
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
  o.integer("--limit", s.limit,
            "use only the first K documents (records of a .jsonl, lines of --ids-file; a plain text file is one), "
            "as eval's --limit",
            1, INT32_MAX, "all");
  o.integer("--max-windows", s.max_windows, "use at most K windows of --max-tokens tokens in all", 1, INT32_MAX,
            "all");
  add_bos_options(o, s.bos);
}

void check_sequence_args(const Options& o) {
  if (o.given("--text-file") == o.given("--ids-file"))
    fail("--text-file", "give exactly one of --text-file F (text or .jsonl) or --ids-file F");
  check_bos_args(o, o.given("--ids-file") ? "--ids-file" : "");
}

std::vector<std::vector<int32_t>> sequences_from_files(const Options& o, const SequenceArgs& s, const Model& model,
                                                       int max_tokens) {
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
    const bool bos = resolve_add_bos(o, s.bos, model.dir(), tokenizer_of(model));
    for (const auto& t : read_text_documents(path, limit)) docs.push_back(encode(model, t, bos));
  }
  std::vector<std::vector<int32_t>> windows;
  const int most = s.max_windows;
  for (const auto& d : docs)
    for (size_t i = 0; i < d.size() && (most <= 0 || static_cast<int>(windows.size()) < most); i += max_tokens)
      windows.emplace_back(d.begin() + i, d.begin() + std::min(d.size(), i + size_t(max_tokens)));
  if (windows.empty()) fail(path, "no tokens (the file is empty)");
  return windows;
}

}  // namespace layerlab::cli
