// layerlab generate --model DIR (--prompt TEXT | --ids 1,2,3) -n 50 [--temperature T --top-k K
//                   --top-p P --seed S] [--plan P]
#include <cstdio>

#include "commands.h"
#include "layerlab/error.h"
#include "layerlab/generate.h"
#include "model_args.h"
#include "text_input.h"

namespace layerlab::cli {

int cmd_generate(const Argv& argv) {
  auto opts = model_options();
  opts.insert({"ids", "prompt", "temperature", "top-k", "top-p", "stop"});
  // `-n` is accepted as a short form of --tokens.
  Argv fixed;
  for (const auto& a : argv) fixed.push_back(a == "-n" ? "--tokens" : a);
  opts.insert("tokens");
  Args args(fixed, opts);
  LoadedModel m = open_model(args);
  const ModelConfig& cfg = m.model->config();
  const Plan plan = plan_from_args(args, cfg);
  const std::vector<int32_t> prompt = prompt_ids(args, *m.model);
  SamplingParams sp;
  sp.temperature = args.get_double("temperature", 0.8);
  sp.top_k = static_cast<int>(args.get_int("top-k", 40));
  sp.top_p = args.get_double("top-p", 0.95);
  sp.seed = static_cast<uint64_t>(args.get_int("seed", 1));
  const int n = static_cast<int>(args.get_int("tokens", 50));
  Runner runner(*m.model, *m.backend);
  // Print text as it comes when a tokenizer is present (ids otherwise), decoding the whole
  // continuation each time so multi-byte characters split across tokens come out whole.
  const bool text = args.has("prompt");
  if (text) std::printf("%s", args.get("prompt").c_str());
  std::vector<int32_t> so_far;
  std::string printed;
  generate(runner, plan, prompt, n, sp, static_cast<int32_t>(args.get_int("stop", -1)), [&](int32_t t) {
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
