#pragma once
// Options every model command shares, declared once: --model, --device, --dtype, --threads,
// and the plan (--plan, or --variant with --n / --k / --seed). Each command adds the ones it
// takes to its own table (args.h) and checks them with the functions below.
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "layerlab/backend.h"
#include "layerlab/model.h"
#include "layerlab/plan.h"

namespace layerlab::cli {

struct ModelArgs {
  std::string model;
  std::string device = "cpu";
  std::string dtype = "f32";
  int threads = 0;  // 0: not given (OpenMP's default, every core)
};

// --model DIR (required unless `required` is false: the command checks it itself, and --help
// shows `when_optional` as its default).
void add_model_option(Options& o, ModelArgs& m, bool required = true, const std::string& when_optional = "none");
// --device (and --dtype when with_dtype).
void add_device_options(Options& o, ModelArgs& m, bool with_dtype = true);
// --threads N (>= 1).
void add_threads_option(Options& o, int& threads);
// All four.
void add_model_options(Options& o, ModelArgs& m);
// OpenMP's thread count, when --threads was given.
void apply_threads(int threads);

struct LoadedModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<Backend> backend;
};
// Checks --device / --dtype, sets --threads, loads the model and makes its backend.
LoadedModel open_model(const ModelArgs& m);

struct PlanArgs {
  std::string plan, variant;
  int n = 0;
  int k = 3;
  uint64_t seed = 0;
  bool seed_option = false;  // --seed is the plan's (set by add_plan_options)
};
// --plan, --variant, --n, --k and (with_seed) --seed. Without it the command declares --seed
// itself (generate: the sampling seed, which the shuffle variant uses too).
void add_plan_options(Options& o, PlanArgs& p, bool with_seed = true);
// Every plan option that cannot apply is an error saying why (--n without --variant, --k with
// a variant other than looped_parallel, --seed with one other than shuffle, ...); a --plan's
// syntax and the variant's name are checked too. Needs no model: call it right after parse.
void check_plan_args(const Options& o, const PlanArgs& p);
// The plan (default: the full model), checked against the model's layers.
Plan plan_from_args(const Options& o, const PlanArgs& p, const ModelConfig& cfg);

// "1,2,3" -> ids (each < vocab when vocab > 0); errors name `flag`.
std::vector<int32_t> parse_ids(const std::string& s, const std::string& flag = "--ids", int vocab = 0);

}  // namespace layerlab::cli
