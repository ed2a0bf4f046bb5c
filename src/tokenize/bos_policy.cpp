#include "layerlab/bos_policy.h"

#include <nlohmann/json.hpp>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/gguf.h"
#include "util/json_depth.h"

namespace layerlab {

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
      const std::string text = read_text_file(cfg, uint64_t(64) << 20);
      check_json_depth(text, cfg);
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(text);
      } catch (const nlohmann::json::exception& e) {
        fail(cfg, std::string("not valid JSON: ") + e.what());
      }
      if (j.is_object() && j.contains("add_bos_token") && !j["add_bos_token"].is_null()) {
        if (!j["add_bos_token"].is_boolean()) fail(cfg, "add_bos_token: must be true, false or null");
        return {j["add_bos_token"].get<bool>(), "tokenizer_config.json add_bos_token"};
      }
    }
  }
  if (tok.family() == "sentencepiece") return {true, "the Llama tokenizer's default"};
  return {false, "the GPT-2 tokenizer's default"};  // byte-level BPE (GPT2Tokenizer: add_bos_token false)
}

}  // namespace layerlab
