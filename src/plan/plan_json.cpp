// The JSON form of plans (`steps` as in golden cases.json), --plan argument handling, validation.
#include <nlohmann/json.hpp>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/plan.h"
#include "util/json_read.h"

namespace layerlab {

namespace {

int layer_index(const nlohmann::json& v, const std::string& where) {
  return static_cast<int>(json_int(v, 0, 1000000, where + ": layer index"));
}

// A misspelt field ("iter": 3) must not quietly run the plan without it.
void only_fields(const nlohmann::json& obj, std::initializer_list<const char*> allowed, const std::string& where) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    if (ok) continue;
    std::string names;
    for (const char* a : allowed) names += std::string(names.empty() ? "" : ", ") + "'" + a + "'";
    fail(where, "unknown field " + json_excerpt(nlohmann::json(it.key())) + " (allowed: " + names + ")");
  }
}

}  // namespace

Plan parse_plan_json(const nlohmann::json& j) {
  const nlohmann::json* steps = &j;
  if (j.is_object()) {
    if (!j.contains("steps")) fail("plan JSON", "object has no 'steps' field");
    only_fields(j, {"steps", "name"}, "plan JSON");
    steps = &j["steps"];
  }
  if (!steps->is_array()) fail("plan JSON", "'steps' must be an array");
  if (steps->empty()) fail("plan JSON", "'steps' is empty");
  Plan plan;
  for (size_t i = 0; i < steps->size(); ++i) {
    const auto& s = (*steps)[i];
    const std::string where = "plan JSON: steps[" + std::to_string(i) + "]";
    if (s.is_object()) {
      if (!s.contains("parallel") || !s["parallel"].is_array()) fail(where, "group needs a 'parallel' array of layers");
      only_fields(s, {"parallel", "iterations"}, where);
      PlanStep step;
      for (size_t k = 0; k < s["parallel"].size(); ++k)
        step.layers.push_back(layer_index(s["parallel"][k], where + ".parallel[" + std::to_string(k) + "]"));
      if (step.layers.empty()) fail(where, "empty parallel group");
      if (s.contains("iterations")) {
          step.iterations = static_cast<int>(json_int(s["iterations"], 1, 1000, where + ": 'iterations'"));
      }
      plan.steps.push_back(step);
    } else {
      plan.steps.push_back({{layer_index(s, where)}, 1});
    }
  }
  return plan;
}

nlohmann::json plan_to_json(const Plan& plan) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : plan.steps) {
    if (s.is_group())
      steps.push_back({{"parallel", s.layers}, {"iterations", s.iterations}});
    else
      steps.push_back(s.layers[0]);
  }
  return {{"steps", steps}};
}

Plan parse_plan_arg(const std::string& arg) {
  std::string text = arg;
  if (!arg.empty() && arg[0] == '@') text = read_text_file(arg.substr(1));
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') {
    return parse_plan_json(parse_json_strict(text, "plan JSON"));
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return parse_plan_text(text);
}

void validate_plan(const Plan& plan, int n_layer) {
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const PlanStep& s = plan.steps[i];
    const std::string where = "plan step " + std::to_string(i + 1) + " (" + plan_to_text({{s}}) + ")";
    if (s.layers.empty()) fail(where, "empty parallel group");
    if (s.iterations < 1) fail(where, "iterations must be at least 1");
    for (int l : s.layers)
      if (l < 0 || l >= n_layer)
        fail(where, "layer " + std::to_string(l) + " does not exist (the model has layers 0.." +
                        std::to_string(n_layer - 1) + ")");
  }
}

Plan full_plan(int n_layer) {
  Plan p;
  for (int l = 0; l < n_layer; ++l) p.steps.push_back({{l}, 1});
  return p;
}

size_t common_prefix(const Plan& a, const Plan& b) {
  size_t k = 0;
  while (k < a.steps.size() && k < b.steps.size() && a.steps[k] == b.steps[k]) ++k;
  return k;
}

}  // namespace layerlab
