#pragma once
// Runs every golden case of a model on a backend and compares all tensors.
#include <gtest/gtest.h>

#include "golden.h"
#include "layerlab/runner.h"

namespace layerlab::testing {

// form: "json" or "text" (which written form of the plan to parse).
inline void check_golden_model(const std::string& model_name, Backend& backend, const Model& model,
                               const std::string& form, double tol) {
  const std::string dir = shared_dir() + "/golden/" + model_name;
  SafetensorsFile golden(dir + "/golden.safetensors");
  Runner runner(model, backend);
  const ModelConfig& cfg = model.config();
  for (const GoldenCase& c : golden_cases(model_name)) {
    SCOPED_TRACE(model_name + " " + c.key + " (" + form + " plan " + c.plan_text + ")");
    const Plan plan = form == "json" ? parse_plan_json(c.steps) : parse_plan_text(c.plan_text);
    ForwardRequest req;
    for (int64_t id : golden.read_i64(c.key + ".input_ids")) req.ids.push_back(static_cast<int32_t>(id));
    req.keep_residuals = true;
    req.all_logits = true;
    req.logprobs_next = cfg.causal;
    ForwardResult r = runner.forward(plan, req);
    const size_t T = req.ids.size();
    ASSERT_EQ(r.resid.size(), plan.steps.size());
    for (size_t k = 0; k < r.resid.size(); ++k) {
      const std::string name = c.key + ".resid." + std::to_string(k + 1);
      EXPECT_LE(max_rel_error(r.resid[k], golden.read_f32(name)), tol) << name;
    }
    EXPECT_LE(max_rel_error(r.final_norm, golden.read_f32(c.key + ".final_norm")), tol) << "final_norm";
    std::vector<float> last(r.logits.end() - 2 * cfg.vocab, r.logits.end());
    EXPECT_LE(max_rel_error(last, golden.read_f32(c.key + ".logits_last")), tol) << "logits_last";
    if (cfg.causal) {
      ASSERT_EQ(r.logprobs_next.size(), T - 1);
      EXPECT_LE(max_rel_error(r.logprobs_next, golden.read_f32(c.key + ".logprobs_next")), tol) << "logprobs_next";
    }
  }
}

}  // namespace layerlab::testing
