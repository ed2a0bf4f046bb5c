// layerlab forward --model DIR (--ids 1,2,3 | --prompt TEXT) [--plan P | --variant V --n N]
//                  [--dump OUT.safetensors]
// Writes resid.K (after plan step K, 1-based), final_norm and logits, all float32.
#include <cstdio>

#include "commands.h"
#include "layerlab/fs.h"
#include "layerlab/runner.h"
#include "layerlab/safetensors.h"
#include "model_args.h"
#include "text_input.h"

namespace layerlab::cli {

int cmd_forward(const Argv& argv) {
  Options o("forward", "run a forward pass (optionally under a plan): prints the plan and the mean next-token "
                       "loss; --dump writes every residual, the final norm and the logits");
  ModelArgs ma;
  PlanArgs pa;
  PromptArgs pr;
  std::string dump;
  add_model_options(o, ma);
  add_prompt_options(o, pr);
  add_plan_options(o, pa);
  o.text("--dump", dump, "FILE",
         "write input_ids, resid.K (after plan step K), final_norm, logits and logprobs_next to this safetensors file",
         "not written");
  if (!o.parse(argv)) return 0;
  check_prompt_args(o);
  check_plan_args(o, pa);
  if (o.given("--dump")) check_output_path(dump, "--dump");  // before the work, not after
  LoadedModel m = open_model(ma);
  const ModelConfig& cfg = m.model->config();
  const Plan plan = plan_from_args(o, pa, cfg);
  ForwardRequest req;
  req.ids = prompt_ids(o, pr, *m.model);
  req.keep_residuals = true;
  req.all_logits = true;
  req.logprobs_next = cfg.causal;
  Runner runner(*m.model, *m.backend);
  ForwardResult res = runner.forward(plan, req);

  const int64_t T = static_cast<int64_t>(req.ids.size()), d = cfg.d_model;
  std::printf("plan   %s (%zu steps)\n", plan_to_text(plan).c_str(), plan.steps.size());
  std::printf("tokens %lld\n", static_cast<long long>(T));
  if (cfg.causal && T > 1) {
    double nll = 0;
    for (float lp : res.logprobs_next) nll -= lp;
    std::printf("mean next-token loss %.4f nats\n", nll / (T - 1));
  }
  if (o.given("--dump")) {
    std::vector<OutTensor> out;
    OutTensor ids{"input_ids", {T}, {}, {}, DType::I64};
    ids.i64.assign(req.ids.begin(), req.ids.end());
    out.push_back(ids);
    for (size_t k = 0; k < res.resid.size(); ++k)
      out.push_back({"resid." + std::to_string(k + 1), {T, d}, std::move(res.resid[k])});
    out.push_back({"final_norm", {T, d}, std::move(res.final_norm)});
    out.push_back({"logits", {T, cfg.vocab}, std::move(res.logits)});
    if (!res.logprobs_next.empty())
      out.push_back({"logprobs_next", {T - 1}, std::move(res.logprobs_next)});
    write_safetensors(dump, out, {{"plan", plan_to_text(plan)}});
    std::printf("wrote  %s\n", dump.c_str());
  }
  return 0;
}

}  // namespace layerlab::cli
