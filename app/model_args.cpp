#include "model_args.h"

#include <omp.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "layerlab/backend_factory.h"
#include "layerlab/cuda_backend.h"
#include "layerlab/error.h"

namespace layerlab::cli {

namespace {

std::string variant_list() {
  std::string all;
  for (const auto& v : variant_names()) all += (all.empty() ? "" : "|") + v;
  return all;
}

}  // namespace

void add_model_option(Options& o, ModelArgs& m, bool required, const std::string& when_optional) {
  auto* opt = o.text("--model", m.model, "PATH",
                     "model folder: Hugging Face GPT-2 / Llama / BERT (config.json + safetensors), or the output of "
                     "layerlab train; or a GGUF file (llama, gpt2)",
                     required ? "" : when_optional);
  if (required) o.required(opt);
}

void add_device_options(Options& o, ModelArgs& m, bool with_dtype) {
  o.text("--device", m.device, "DEVICE", "where the layers run: cpu, cuda or cuda:N (docs/CUDA.md)");
  if (with_dtype)
    o.text("--dtype", m.dtype, "DTYPE", "arithmetic type: f32 on cpu; f32, tf32, bf16 or f16 on cuda");
}

void add_threads_option(Options& o, int& threads) {
  o.integer("--threads", threads, "CPU threads (OpenMP)", 1, 4096, "every core");
}

void add_model_options(Options& o, ModelArgs& m) {
  add_model_option(o, m);
  add_device_options(o, m);
  add_threads_option(o, m.threads);
}

void apply_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
}

LoadedModel open_model(const ModelArgs& a) {
  LoadedModel m;
  apply_threads(a.threads);
  const BackendSpec spec{a.device, a.dtype};
  check_backend_spec(spec);  // before the (possibly long) load
  m.model = load_model(a.model);
  m.backend = make_backend(*m.model, spec);
  return m;
}

void add_plan_options(Options& o, PlanArgs& p, bool with_seed) {
  o.text("--plan", p.plan, "PLAN",
         "layers to run, in order: text ('0-7,[8-15]x3,16-23'), JSON, or @FILE (docs/PLANS.md); not with --variant",
         "the full model");
  o.text("--variant", p.variant, "NAME", "a Painters variant of the middle layers: " + variant_list() + " (with --n)",
         "none");
  o.integer("--n", p.n, "N of --variant: the first and last N layers run unchanged, the middle ones are changed", 0,
            INT32_MAX, "none; every variant but full needs it");
  o.integer("--k", p.k, "times the parallel middle group runs (--variant looped_parallel only)", 1, 1000000);
  p.seed_option = with_seed;
  if (with_seed) o.seed("--seed", p.seed, "order of the shuffled middle layers (--variant shuffle only)");
}

void check_plan_args(const Options& o, const PlanArgs& p) {
  const bool plan = o.given("--plan"), variant = o.given("--variant");
  if (plan && variant) fail("--plan", "give either --plan or --variant, not both");
  const bool seed = p.seed_option && o.given("--seed");
  for (const char* f : {"--n", "--k"}) {
    if (!o.given(f)) continue;
    if (plan) fail(f, "applies to --variant only; --plan lists the layers itself");
    if (!variant)
      fail(f, std::string(f) == "--n" ? "is the N of --variant, and no --variant was given"
                                      : "is the K of --variant looped_parallel, and no --variant was given");
  }
  if (seed && !variant)
    fail("--seed", plan ? "applies to --variant shuffle only; --plan lists the layers itself"
                        : "only --variant shuffle uses a seed, and no --variant was given");
  if (plan) {
    parse_plan_arg(p.plan);  // its syntax, before a model loads (layers are checked against the model later)
    return;
  }
  if (!variant) return;
  const auto& names = variant_names();
  if (std::find(names.begin(), names.end(), p.variant) == names.end())
    fail("--variant", "unknown variant '" + p.variant + "' (one of: " + variant_list() + ")");
  if (p.variant == "full") {
    if (o.given("--n")) fail("--n", "--variant full runs every layer and takes no N");
  } else if (!o.given("--n")) {
    fail("--n", "--variant " + p.variant + " needs --n N (the first and last N layers stay)");
  }
  if (o.given("--k") && p.variant != "looped_parallel")
    fail("--k", "only --variant looped_parallel repeats its middle group K times (this is --variant " + p.variant + ")");
  if (seed && p.variant != "shuffle")
    fail("--seed", "only --variant shuffle is random; --variant " + p.variant + " has nothing a seed changes");
}

Plan plan_from_args(const Options& o, const PlanArgs& p, const ModelConfig& cfg) {
  check_plan_args(o, p);
  Plan plan;
  if (o.given("--plan")) plan = parse_plan_arg(p.plan);
  else if (o.given("--variant")) plan = make_variant(p.variant, cfg.n_layer, p.n, p.k, p.seed);
  else plan = full_plan(cfg.n_layer);
  validate_plan(plan, cfg.n_layer);
  return plan;
}

std::vector<int32_t> parse_ids(const std::string& s, const std::string& flag, int vocab) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    const std::string tok = s.substr(i, j - i);
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(tok.c_str(), &end, 10);
    if (tok.empty() || *end != '\0' || errno == ERANGE || v < 0 || v > INT32_MAX)
      fail(flag, "'" + tok + "' is not a token id");
    if (vocab > 0 && v >= vocab)
      fail(flag, "token id " + tok + " is outside the model's vocabulary of " + std::to_string(vocab));
    ids.push_back(static_cast<int32_t>(v));
    i = j + 1;
  }
  if (ids.empty()) fail(flag, "no token ids given");
  return ids;
}

}  // namespace layerlab::cli
