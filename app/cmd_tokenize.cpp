// layerlab tokenize --model DIR (TEXT | --file F) [--bos] [--special]
// Prints one line of ids, then a table of id<TAB>piece (control characters in pieces escaped).
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/tokenizer.h"

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
  Args args(argv, {"model", "file"}, {"bos", "special"});
  const std::string dir = args.require("model");
  std::string text;
  if (args.has("file")) {
    if (!args.positional().empty()) fail("tokenize", "give the text either as an argument or with --file, not both");
    text = read_text_file(args.get("file"));
  } else {
    if (args.positional().empty()) fail("tokenize", "give the text to tokenize (or --file F)");
    for (const auto& p : args.positional()) text += (text.empty() ? "" : " ") + p;
  }
  auto tok = load_tokenizer(dir);
  EncodeOptions opt;
  opt.add_bos = args.has("bos");
  // One flag for both: only one of them means anything for any given family.
  opt.add_special = args.has("special");
  opt.parse_special = args.has("special");
  const std::vector<int32_t> ids = tok->encode(text, opt);
  std::string line;
  for (int32_t id : ids) line += (line.empty() ? "" : " ") + std::to_string(id);
  std::printf("%s\n", line.c_str());
  for (int32_t id : ids) std::printf("%d\t%s\n", id, printable(tok->piece(id)).c_str());
  return 0;
}

}  // namespace layerlab::cli
