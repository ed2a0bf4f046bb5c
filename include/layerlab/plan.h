#pragma once
// Layer execution plans ("Transformer Layers as Painters", arXiv 2407.09298): the sequence of
// steps that replaces the plain loop over layers. A step is one layer, or a parallel group:
//   x <- mean over i in layers of layer_i(x)   (each full layer, residual included), K times.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace layerlab {

struct PlanStep {
  std::vector<int> layers;  // one layer, or the members of a parallel group
  int iterations = 1;       // looped parallel: K rounds, each feeding the average back in
  bool is_group() const { return layers.size() > 1 || iterations > 1; }
  bool operator==(const PlanStep&) const = default;
};

// The most steps (and parallel-group members) a plan may have: far past any real study
// (a 80-layer model repeated 1000 times), small enough that parsing stays cheap.
inline constexpr size_t kMaxPlanEntries = 100000;

struct Plan {
  std::vector<PlanStep> steps;
  bool operator==(const Plan&) const = default;
};

// Text form: comma-separated steps. `7` one layer; `4-9` layers 4..9; `9-4` reversed;
// `5x3` layer 5 three times (three steps); `[4-9]` or `[4,6,8]` a parallel group;
// `[4-9]x3` looped parallel, 3 iterations; `full` every layer. Whitespace is ignored.
// Errors name the character position: "plan 'x': at position 3: ...".
Plan parse_plan_text(const std::string& text);
// JSON form: a `steps` array (as in golden cases.json) or an object holding one.
Plan parse_plan_json(const nlohmann::json& j);
// What --plan accepts: `@file` (JSON or text in a file), a JSON object `{"steps": ...}`,
// or the text form.
Plan parse_plan_arg(const std::string& arg);

Plan full_plan(int n_layer);
// Checks layer indices against the model and that groups are non-empty with K >= 1.
void validate_plan(const Plan& plan, int n_layer);

// The paper's variants for a T-layer model keeping N layers at each end (middle = N..T-N-1):
//   full, skip, middle_repeat, reverse, shuffle (seeded), parallel, looped_parallel (K).
Plan make_variant(const std::string& variant, int n_layer, int n, int k = 3, uint64_t seed = 0);
const std::vector<std::string>& variant_names();

std::string plan_to_text(const Plan& plan);
nlohmann::json plan_to_json(const Plan& plan);
// Number of leading steps two plans share exactly (for prefix reuse).
size_t common_prefix(const Plan& a, const Plan& b);

}  // namespace layerlab
