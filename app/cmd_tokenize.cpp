// layerlab tokenize --model PATH (TEXT | --file F) [--add-bos | --no-add-bos] [--special]
// Prints one line of ids, then a table of id<TAB>piece (control characters in pieces escaped).
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/tokenizer.h"
#include "text_input.h"

namespace layerlab::cli {

namespace {

std::string printable(const std::string& piece) {
  std::string out;
  for (unsigned char c : piece) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

int cmd_tokenize(const Argv& argv) {
  Options o("tokenize", "print the token ids of a text on one line, then a table of id and piece",
            "--model PATH (TEXT... | --file F) [options]");
  std::string dir, file;
  std::vector<std::string> words;
  bool special = false;
  BosArgs bos;
  o.required(o.text("--model", dir, "PATH", "model (or tokenizer) folder: tokenizer.json, vocab.json + merges.txt, "
                                            "tokenizer.model or vocab.txt; or a GGUF file (tokenizer.ggml.*)"));
  o.text("--file", file, "FILE", "tokenize this file's text instead of the arguments", "the arguments");
  o.flag("--special", special, "add the family's special tokens ([CLS] ... [SEP]) and read special tokens in the text");
  o.positional("text", words, "the text (several arguments are joined with spaces)");
  add_bos_options(o, bos);  // BOS as forward / eval read text (the model's policy, `layerlab info`)
  if (!o.parse(argv)) return 0;
  check_bos_args(o);
  std::string text;
  if (o.given("--file")) {
    if (!words.empty()) fail("tokenize", "give the text either as an argument or with --file, not both");
  } else if (words.empty()) {
    fail("tokenize", "give the text to tokenize (or --file F)");
  }
  auto tok = load_tokenizer(dir);
  EncodeOptions opt;
  opt.add_bos = resolve_add_bos(o, bos, dir, *tok);
  // One flag for both: only one of them means anything for any given family.
  opt.add_special = special;
  opt.parse_special = special;
  if (o.given("--file")) text = read_text_file(file);
  else
    for (const auto& p : words) text += (text.empty() ? "" : " ") + p;
  const std::vector<int32_t> ids = tok->encode(text, opt);
  std::string line;
  for (int32_t id : ids) line += (line.empty() ? "" : " ") + std::to_string(id);
  std::printf("%s\n", line.c_str());
  for (int32_t id : ids) std::printf("%d\t%s\n", id, printable(tok->piece(id)).c_str());
  return 0;
}

}  // namespace layerlab::cli
