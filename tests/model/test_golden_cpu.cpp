// Every golden case (full model and every Painters plan) for GPT-2, Llama and BERT on the CPU
// backend, with the plan given in JSON and in text form. Tolerance: max relative error 1e-4
// (max |ours - HF| / max |HF| per tensor; HF computed in float64, we in float32).
#include "golden_check.h"

namespace layerlab::testing {
namespace {

class GoldenCpu : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(GoldenCpu, MatchesHuggingFace) {
  const auto& [model_name, form] = GetParam();
  auto model = load_model(shared_dir() + "/golden/" + model_name);
  auto backend = make_cpu_backend(*model);
  check_golden_model(model_name, *backend, *model, form, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(AllModels, GoldenCpu,
                         ::testing::Combine(::testing::Values("gpt2-tiny", "llama-tiny", "bert-tiny"),
                                            ::testing::Values("json", "text")));

}  // namespace
}  // namespace layerlab::testing
