#include "layerlab/bos_policy.h"

#include <vector>

#include <nlohmann/json.hpp>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/gguf.h"
#include "util/json_depth.h"

namespace layerlab {

namespace {

nlohmann::json parse_file(const std::string& path) {
  const std::string text = read_text_file(path, uint64_t(256) << 20);
  check_json_depth(text, path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("not valid JSON: ") + e.what());
  }
}

// tokenizer.json's post_processor: a TemplateProcessing (alone or in a Sequence) is what adds
// special tokens in a fast tokenizer (Llama 3's BOS comes only from there). Returns 1 when its
// single-text template starts with the BOS token, 0 when it does not, -1 without a template.
int template_adds_bos(const nlohmann::json& j, const std::string& bos_piece) {
  if (!j.is_object() || !j.contains("post_processor")) return -1;
  std::vector<const nlohmann::json*> procs = {&j["post_processor"]};
  const nlohmann::json& pp = j["post_processor"];
  if (pp.is_object() && pp.value("type", "") == "Sequence" && pp.contains("processors") && pp["processors"].is_array())
    for (const auto& p : pp["processors"]) procs.push_back(&p);
  for (const nlohmann::json* p : procs) {
    if (!p->is_object() || p->value("type", "") != "TemplateProcessing") continue;
    const nlohmann::json single = p->value("single", nlohmann::json());
    if (!single.is_array() || single.empty()) return 0;
    const nlohmann::json& first = single[0];
    return first.is_object() && first.contains("SpecialToken") && first["SpecialToken"].is_object() &&
                   first["SpecialToken"].value("id", "") == bos_piece
               ? 1
               : 0;
  }
  return -1;
}

}  // namespace

BosPolicy bos_policy(const std::string& model_path, const Tokenizer& tok) {
  if (tok.bos_id() < 0) return {false, "the tokenizer has no BOS token"};
  if (tok.family() == "wordpiece") return {false, "BERT: inputs start with [CLS] instead"};
  if (is_gguf_file(model_path)) {
    const GgufFile g(model_path);
    if (g.has("tokenizer.ggml.add_bos_token"))
      return {g.get_bool_or("tokenizer.ggml.add_bos_token", false), "GGUF tokenizer.ggml.add_bos_token"};
  } else {
    const std::string cfg = model_path + "/tokenizer_config.json";
    if (file_exists(cfg)) {
      const nlohmann::json j = parse_file(cfg);
      if (j.is_object() && j.contains("add_bos_token") && !j["add_bos_token"].is_null()) {
        if (!j["add_bos_token"].is_boolean()) fail(cfg, "add_bos_token: must be true, false or null");
        return {j["add_bos_token"].get<bool>(), "tokenizer_config.json add_bos_token"};
      }
    }
    const std::string tj = model_path + "/tokenizer.json";
    if (tok.family() == "gpt2-bpe" && file_exists(tj)) {
      const int t = template_adds_bos(parse_file(tj), tok.piece(tok.bos_id()));
      if (t >= 0) return {t == 1, "tokenizer.json post_processor template"};
    }
  }
  if (tok.family() == "sentencepiece") return {true, "the Llama tokenizer's default"};
  return {false, "the GPT-2 tokenizer's default"};  // byte-level BPE (GPT2Tokenizer: add_bos_token false)
}

}  // namespace layerlab
