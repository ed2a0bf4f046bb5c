// Reading a byte-level BPE tokenizer from vocab.json + merges.txt or from tokenizer.json.
#include <nlohmann/json.hpp>
#include <sstream>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "tokenize/bpe.h"
#include "util/json_read.h"

namespace layerlab::tok {

namespace {

using nlohmann::json;

json parse_json(const std::string& path) { return read_json_file(path); }

// A token id as a file states it: a JSON integer (or, for added_tokens_decoder keys, a decimal
// string) within int32. Whether it fits the vocabulary is checked by ByteLevelBpe itself.
int32_t token_id(const json& v, const std::string& where) {
  return static_cast<int32_t>(json_int(v, 0, INT32_MAX - 1, where));
}

int32_t token_id_key(const std::string& key, const std::string& where) {
  const bool digits = !key.empty() && key.size() <= 10 && key.find_first_not_of("0123456789") == std::string::npos;
  if (!digits || std::stoll(key) > INT32_MAX - 1)
    fail(where, "key " + json_excerpt(json(key)) + " is not a token id (a non-negative decimal integer)");
  return static_cast<int32_t>(std::stoll(key));
}

bool bool_field(const json& obj, const char* key, bool fallback, const std::string& where) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return fallback;
  if (!obj[key].is_boolean()) fail(where, std::string("'") + key + "' must be true or false, got " + json_excerpt(obj[key]));
  return obj[key].get<bool>();
}

std::string string_field(const json& obj, const char* key, const std::string& where) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return "";
  if (!obj[key].is_string()) fail(where, std::string("'") + key + "' must be a string, got " + json_excerpt(obj[key]));
  return obj[key].get<std::string>();
}

const json& member(const json& obj, const char* key) {
  static const json null_value;
  return obj.is_object() && obj.contains(key) ? obj[key] : null_value;
}

std::string dir_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// "<|endoftext|>" or {"content": "<|endoftext|>", ...} as tokenizer_config.json writes them.
std::string token_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return "";
}

int32_t find_id(const BpeSpec& spec, const std::string& text) {
  if (text.empty()) return -1;
  for (const auto& a : spec.added)
    if (a.content == text) return a.id;
  auto it = spec.vocab.find(text);
  return it == spec.vocab.end() ? -1 : it->second;
}

// Added tokens and BOS/EOS from tokenizer_config.json when the folder has one; GPT-2's
// "<|endoftext|>" (its BOS and EOS) otherwise.
void read_special(const std::string& dir, BpeSpec& spec) {
  std::string bos = "<|endoftext|>", eos = "<|endoftext|>";
  const std::string cfg_path = dir + "/tokenizer_config.json";
  if (file_exists(cfg_path)) {
    const json cfg = parse_json(cfg_path);
    if (cfg.contains("added_tokens_decoder") && cfg["added_tokens_decoder"].is_object()) {
      for (const auto& [key, v] : cfg["added_tokens_decoder"].items()) {
        const std::string where = cfg_path + ": added_tokens_decoder";
        const std::string content = token_text(v);
        if (content.empty()) continue;
        bool known = false;
        for (const auto& a : spec.added) known = known || a.content == content;
        if (!known) spec.added.push_back({content, token_id_key(key, where), bool_field(v, "special", true, where)});
      }
    }
    if (cfg.contains("bos_token")) bos = token_text(cfg["bos_token"]);
    if (cfg.contains("eos_token")) eos = token_text(cfg["eos_token"]);
  }
  if (spec.vocab.count("<|endoftext|>")) {
    bool known = false;
    for (const auto& a : spec.added) known = known || a.content == "<|endoftext|>";
    if (!known) spec.added.push_back({"<|endoftext|>", spec.vocab.at("<|endoftext|>"), true});
  }
  spec.bos = find_id(spec, bos);
  spec.eos = find_id(spec, eos);
}

void read_vocab(const json& v, const std::string& where, BpeSpec& spec) {
  if (!v.is_object()) fail(where, "the vocabulary is not a JSON object of piece -> id");
  spec.vocab.reserve(v.size());
  for (const auto& [piece, id] : v.items()) {
    spec.vocab.emplace(piece, token_id(id, where + ": the id of " + json_excerpt(json(piece))));
  }
}

void add_merge(const std::string& line, const std::string& where, BpeSpec& spec) {
  const auto space = line.find(' ');
  if (space == std::string::npos || space == 0 || space + 1 == line.size())
    fail(where, "merge '" + line + "' is not two pieces separated by a space");
  spec.merges.emplace_back(line.substr(0, space), line.substr(space + 1));
}

}  // namespace

BpeSpec read_vocab_merges(const std::string& dir) {
  BpeSpec spec;
  spec.source = dir + "/vocab.json";
  read_vocab(parse_json(dir + "/vocab.json"), dir + "/vocab.json", spec);
  const std::string merges_path = dir + "/merges.txt";
  std::istringstream in(read_text_file(merges_path));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    add_merge(line, merges_path, spec);
  }
  read_special(dir, spec);
  return spec;
}

bool is_byte_level_bpe_json(const std::string& path) {
  const json j = parse_json(path);
  return string_field(member(j, "model"), "type", path + ": model") == "BPE" &&
         string_field(member(j, "pre_tokenizer"), "type", path + ": pre_tokenizer") == "ByteLevel";
}

BpeSpec read_bpe_tokenizer_json(const std::string& path) {
  const json j = parse_json(path);
  BpeSpec spec;
  spec.source = path;
  const json& model = member(j, "model");
  const json& pre = member(j, "pre_tokenizer");
  if (string_field(model, "type", path + ": model") != "BPE") fail(path, "model.type is not \"BPE\"");
  // Only GPT-2's exact recipe is implemented; anything else would give wrong ids silently.
  if (string_field(pre, "type", path + ": pre_tokenizer") != "ByteLevel")
    fail(path, "pre_tokenizer is not a single ByteLevel pre-tokenizer (only GPT-2 style byte-level BPE is supported)");
  if (!bool_field(pre, "use_regex", true, path + ": pre_tokenizer"))
    fail(path, "ByteLevel pre_tokenizer with use_regex=false is not supported");
  if (!member(j, "normalizer").is_null()) fail(path, "a normalizer is not supported for byte-level BPE");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (!string_field(model, key, path + ": model").empty()) fail(path, std::string("model.") + key + " is not supported");
  if (bool_field(model, "byte_fallback", false, path + ": model"))
    fail(path, "model.byte_fallback is not supported for byte-level BPE");
  spec.add_prefix_space = bool_field(pre, "add_prefix_space", false, path + ": pre_tokenizer");
  spec.ignore_merges = bool_field(model, "ignore_merges", false, path + ": model");
  read_vocab(member(model, "vocab"), path + " (model.vocab)", spec);
  if (!member(model, "merges").is_array()) fail(path, "model.merges is missing");
  for (const auto& m : model["merges"]) {
    if (m.is_string()) {
      add_merge(m.get<std::string>(), path + " (model.merges)", spec);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      spec.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      fail(path, "model.merges holds an entry that is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  const json& added = member(j, "added_tokens");
  if (!added.is_null() && !added.is_array()) fail(path, "added_tokens is not an array");
  for (size_t i = 0; added.is_array() && i < added.size(); ++i) {
    const json& a = added[i];
    const std::string where = path + ": added_tokens[" + std::to_string(i) + "]";
    if (!a.is_object() || !a.contains("id") || !a.contains("content")) fail(where, "an added token needs id and content");
    if (!a["content"].is_string()) fail(where, "content is not a string");
    spec.added.push_back({a["content"].get<std::string>(), token_id(a["id"], where + ".id"), bool_field(a, "special", false, where)});
  }
  read_special(dir_of(path), spec);
  return spec;
}

}  // namespace layerlab::tok
