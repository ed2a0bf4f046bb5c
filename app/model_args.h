#pragma once
// Options every model command shares: --model, --device, --plan / --variant.
#include <memory>
#include <set>
#include <string>

#include "args.h"
#include "layerlab/backend.h"
#include "layerlab/model.h"
#include "layerlab/plan.h"

namespace layerlab::cli {

// Value options understood by plan_from_args / open_backend, to merge into a command's set.
const std::set<std::string>& model_options();

struct LoadedModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<Backend> backend;
};

LoadedModel open_model(const Args& args);
// --plan TEXT|@FILE|JSON, or --variant V --n N [--k K] [--seed S]; default: the full model.
Plan plan_from_args(const Args& args, const ModelConfig& cfg);
// "1,2,3" -> ids
std::vector<int32_t> parse_ids(const std::string& s);

}  // namespace layerlab::cli
