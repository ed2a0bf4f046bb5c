#pragma once
// A model family = how to read its config.json and where its weights live.
#include <string>

#include "checkpoint.h"
#include "config_reader.h"
#include "layerlab/model.h"

namespace layerlab {

struct Family {
  const char* name;
  bool (*matches)(const ConfigReader& cfg);  // by model_type / architectures
  void (*parse_config)(const ConfigReader& cfg, ModelConfig& out);
  void (*load_weights)(WeightLoader& w, const ModelConfig& cfg, ModelWeights& out);
};

const Family& gpt2_family();
const Family& llama_family();
const Family& bert_family();
const Family& layerlab_family();  // layerlab_config.json (layerlab train)

// Checks that the numbers a config gave are usable (positive sizes, heads divide width...).
void validate_config(const ConfigReader& cfg, const ModelConfig& c);

}  // namespace layerlab
