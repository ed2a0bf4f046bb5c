// load_tokenizer: picks the tokenizer family from the files of a Hugging Face model folder.
#include <nlohmann/json.hpp>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/gguf.h"
#include "layerlab/tokenizer.h"
#include "tokenize/bpe.h"
#include "tokenize/families.h"
#include "util/json_read.h"

namespace layerlab {

namespace {

// BERT casing from tokenizer_config.json: do_lower_case (default true, as bert-base-uncased)
// and strip_accents (null or absent: same as do_lower_case).
std::unique_ptr<Tokenizer> load_wordpiece(const std::string& dir) {
  bool lower = true, strip = true;
  const std::string cfg_path = dir + "/tokenizer_config.json";
  if (file_exists(cfg_path)) {
    const nlohmann::json cfg = read_json_file(cfg_path);
    if (cfg.contains("do_lower_case") && cfg["do_lower_case"].is_boolean()) lower = cfg["do_lower_case"].get<bool>();
    strip = lower;
    if (cfg.contains("strip_accents") && cfg["strip_accents"].is_boolean()) strip = cfg["strip_accents"].get<bool>();
  }
  return tok::make_wordpiece(dir + "/vocab.txt", lower, strip);
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model_dir) {
  if (is_gguf_file(model_dir)) return tok::make_gguf_tokenizer(model_dir);
  if (!is_directory(model_dir)) fail(model_dir, "not a directory (expected a model folder with tokenizer files, or a .gguf file)");
  const std::string dir = model_dir;
  const bool has_json = file_exists(dir + "/tokenizer.json");
  // tokenizer.json is taken when it is GPT-2 style byte-level BPE; Llama and BERT folders
  // often have one too, of another kind, next to their tokenizer.model / vocab.txt.
  if (has_json && tok::is_byte_level_bpe_json(dir + "/tokenizer.json"))
    return std::make_unique<tok::ByteLevelBpe>(tok::read_bpe_tokenizer_json(dir + "/tokenizer.json"));
  if (file_exists(dir + "/vocab.json") && file_exists(dir + "/merges.txt"))
    return std::make_unique<tok::ByteLevelBpe>(tok::read_vocab_merges(dir));
  if (file_exists(dir + "/tokenizer.model")) return tok::make_sentencepiece(dir + "/tokenizer.model");
  if (file_exists(dir + "/vocab.txt")) return load_wordpiece(dir);
  if (has_json) {
    // Let the reader name the exact reason it cannot take this tokenizer.json.
    tok::read_bpe_tokenizer_json(dir + "/tokenizer.json");
  }
  fail(model_dir,
       "no tokenizer files found (expected tokenizer.json, vocab.json + merges.txt, tokenizer.model or vocab.txt)");
}

std::vector<std::string> copy_tokenizer_files(const std::string& from, const std::string& to) {
  if (is_gguf_file(from))
    fail(from, "the tokenizer of a GGUF file cannot be copied into a model folder yet (use the Hugging Face folder)");
  std::vector<std::string> copied;
  for (const char* name : {"tokenizer.json", "vocab.json", "merges.txt", "tokenizer.model", "vocab.txt",
                           "tokenizer_config.json", "special_tokens_map.json"}) {
    const std::string src = from + "/" + name;
    if (!file_exists(src)) continue;
    write_file_atomic(to + "/" + name, read_text_file(src));
    copied.push_back(name);
  }
  return copied;
}

}  // namespace layerlab
