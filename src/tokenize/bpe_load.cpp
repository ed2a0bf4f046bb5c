// Reading a byte-level BPE tokenizer from vocab.json + merges.txt or from tokenizer.json.
#include <nlohmann/json.hpp>
#include <sstream>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "tokenize/bpe.h"
#include "util/json_depth.h"

namespace layerlab::tok {

namespace {

using nlohmann::json;

json parse_json(const std::string& path) {
  try {
    return json::parse(depth_checked(read_text_file(path), path));
  } catch (const json::exception& e) {
    fail(path, std::string("not valid JSON: ") + e.what());
  }
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
        const std::string content = token_text(v);
        if (content.empty()) continue;
        bool known = false;
        for (const auto& a : spec.added) known = known || a.content == content;
        if (!known) spec.added.push_back({content, static_cast<int32_t>(std::stol(key)), v.value("special", true)});
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
    if (!id.is_number_integer()) fail(where, "the id of '" + piece + "' is not an integer");
    spec.vocab.emplace(piece, id.get<int32_t>());
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
  if (!j.contains("model") || j["model"].value("type", "") != "BPE") return false;
  const json& pre = j.contains("pre_tokenizer") ? j["pre_tokenizer"] : json();
  return pre.is_object() && pre.value("type", "") == "ByteLevel";
}

BpeSpec read_bpe_tokenizer_json(const std::string& path) {
  const json j = parse_json(path);
  BpeSpec spec;
  spec.source = path;
  if (!j.contains("model") || !j["model"].is_object() || j["model"].value("type", "") != "BPE")
    fail(path, "model.type is not \"BPE\"");
  const json& model = j["model"];
  const json& pre = j.contains("pre_tokenizer") ? j["pre_tokenizer"] : json();
  // Only GPT-2's exact recipe is implemented; anything else would give wrong ids silently.
  if (!pre.is_object() || pre.value("type", "") != "ByteLevel")
    fail(path, "pre_tokenizer is not a single ByteLevel pre-tokenizer (only GPT-2 style byte-level BPE is supported)");
  if (!pre.value("use_regex", true)) fail(path, "ByteLevel pre_tokenizer with use_regex=false is not supported");
  if (j.contains("normalizer") && !j["normalizer"].is_null()) fail(path, "a normalizer is not supported for byte-level BPE");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty())
      fail(path, std::string("model.") + key + " is not supported");
  if (model.value("byte_fallback", false)) fail(path, "model.byte_fallback is not supported for byte-level BPE");
  spec.add_prefix_space = pre.value("add_prefix_space", false);
  spec.ignore_merges = model.value("ignore_merges", false);
  read_vocab(model.value("vocab", json()), path + " (model.vocab)", spec);
  if (!model.contains("merges") || !model["merges"].is_array()) fail(path, "model.merges is missing");
  for (const auto& m : model["merges"]) {
    if (m.is_string()) {
      add_merge(m.get<std::string>(), path + " (model.merges)", spec);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      spec.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      fail(path, "model.merges holds an entry that is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
    for (const auto& a : j["added_tokens"]) {
      if (!a.contains("id") || !a.contains("content")) fail(path, "an added token lacks id or content");
      spec.added.push_back({a["content"].get<std::string>(), a["id"].get<int32_t>(), a.value("special", false)});
    }
  }
  read_special(dir_of(path), spec);
  return spec;
}

}  // namespace layerlab::tok
