// layerlab generate --model DIR (--prompt TEXT | --ids 1,2,3) [-n 50] [--temperature T --top-k K
//                   --top-p P --seed S] [--stop ID] [--plan P | --variant V --n N]
// Everything is checked before the prompt is printed: an error never follows output.
#include <cmath>
#include <cstdio>

#include "commands.h"
#include "layerlab/error.h"
#include "layerlab/generate.h"
#include "model_args.h"
#include "text_input.h"

namespace layerlab::cli {

int cmd_generate(const Argv& argv) {
  Options o("generate", "sample text from a decoder model (under any plan), printed as it comes");
  ModelArgs ma;
  PlanArgs pa;
  PromptArgs pr;
  SamplingParams sp;
  sp.temperature = 0.8;
  sp.top_k = 40;
  sp.top_p = 0.95;
  sp.seed = 1;
  int tokens = 50, stop = -1;
  add_model_options(o, ma);
  add_prompt_options(o, pr);
  // -n is the number of tokens; --n (two dashes) is the N of --variant, as in every command.
  o.integer("--tokens,-n", tokens, "number of tokens to generate", 1, INT32_MAX);
  o.number("--temperature", sp.temperature, "sampling temperature; 0 = greedy (always the most likely token)", 0,
           HUGE_VAL);
  o.integer("--top-k", sp.top_k, "sample among the K most likely tokens only; 0 = off", 0, INT32_MAX);
  o.number("--top-p", sp.top_p,
           "nucleus sampling: among the most likely tokens whose probabilities sum to P; 1 = off, must be > 0", 0, 1);
  o.seed("--seed", sp.seed, "sampling seed (with --temperature > 0); also the order of --variant shuffle");
  o.integer("--stop", stop, "stop after generating this token id (e.g. end of text)", 0, INT32_MAX, "none");
  add_plan_options(o, pa, /*with_seed=*/false);
  if (!o.parse(argv)) return 0;

  // Usage first, before the model loads.
  if (o.given("--n") && !o.given("--variant") && !o.given("--plan"))
    fail("--n", "is the N of --variant, and no --variant was given (the number of tokens to generate is -n or "
                "--tokens)");
  check_plan_args(o, pa);
  check_prompt_args(o);
  if (!(sp.top_p > 0)) fail("--top-p", "must be in (0, 1], got 0");
  const bool greedy = sp.temperature == 0;
  if (greedy) {
    for (const char* f : {"--top-k", "--top-p"})
      if (o.given(f)) fail(f, "has no effect with --temperature 0 (greedy decoding)");
    if (o.given("--seed") && pa.variant != "shuffle")
      fail("--seed", "nothing is random: --temperature 0 is greedy" +
                         std::string(o.given("--variant") ? " and --variant " + pa.variant + " has no seed" : ""));
  }
  validate_sampling(sp);

  LoadedModel m = open_model(ma);
  const ModelConfig& cfg = m.model->config();
  if (!cfg.causal) fail("--model", "model family '" + cfg.family + "' is not a decoder: it cannot generate");
  pa.seed = sp.seed;  // --variant shuffle
  const Plan plan = plan_from_args(o, pa, cfg);
  const std::vector<int32_t> prompt = prompt_ids(o, pr, *m.model);
  if (stop >= cfg.vocab)
    fail("--stop", "token id " + std::to_string(stop) + " is outside the model's vocabulary of " +
                       std::to_string(cfg.vocab));
  const long capacity = static_cast<long>(prompt.size()) + tokens;
  if (cfg.positions == Positions::Learned && capacity > cfg.max_positions)
    fail("--tokens", "the prompt's " + std::to_string(prompt.size()) + " tokens + " + std::to_string(tokens) +
                         " new ones exceed the model's context of " + std::to_string(cfg.max_positions) + " tokens");
  Runner runner(*m.model, *m.backend);

  // Print text as it comes when a tokenizer is present (ids otherwise), decoding the whole
  // continuation each time so multi-byte characters split across tokens come out whole.
  const bool text = o.given("--prompt");
  if (text) std::printf("%s", pr.prompt.c_str());
  std::vector<int32_t> so_far;
  std::string printed;
  generate(runner, plan, prompt, tokens, sp, stop, [&](int32_t t) {
    if (!text) {
      std::printf("%d ", t);
    } else {
      so_far.push_back(t);
      const std::string all = decode_text(*m.model, so_far);
      if (all.size() > printed.size() && all.compare(0, printed.size(), printed) == 0) {
        std::printf("%s", all.c_str() + printed.size());
        printed = all;
      }
    }
    std::fflush(stdout);
    return true;
  });
  std::printf("\n");
  return 0;
}

}  // namespace layerlab::cli
