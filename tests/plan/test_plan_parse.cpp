// The plan text and JSON forms, and their errors (positions in the text, field paths in JSON).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "layerlab/error.h"
#include "layerlab/plan.h"

namespace layerlab {
namespace {

PlanStep one(int l) { return {{l}, 1}; }

// The message of the Error that `parse` throws for `text` ("" if none).
std::string error_of(const std::string& text, Plan (*parse)(const std::string&) = parse_plan_text) {
  try {
    parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
std::string arg_error_of(const std::string& arg) { return error_of(arg, parse_plan_arg); }

// Regression: `0-1000000x1000000` (29 bytes) used to be expanded into 10^12 steps before any
// limit was checked; sizes are now checked while parsing.
TEST(PlanLimits, HugeExpansionsAreRefusedBeforeExpanding) {
  for (const char* text : {"0-1000000x1000000", "0-999999", "[0-200000]", "5x200000", "0-50000,0-50001"}) {
    const std::string e = arg_error_of(text);
    EXPECT_NE(e.find("at most 100000"), std::string::npos) << text << " -> '" << e << "'";
  }
  EXPECT_EQ(parse_plan_text("0-99999").steps.size(), 100000u);  // the limit itself is allowed
}

// Regression: a JSON plan nested 60,000 deep crashed the CLI (stack overflow).
TEST(PlanLimits, DeeplyNestedJsonPlanIsAnError) {
  const std::string deep = "{\"steps\": " + std::string(60000, '[') + std::string(60000, ']') + "}";
  const std::string e = arg_error_of(deep);
  EXPECT_NE(e.find("plan JSON"), std::string::npos) << e;
  EXPECT_NE(e.find("nested deeper than 64"), std::string::npos) << e;
  // Brackets inside strings do not count.
  EXPECT_EQ(arg_error_of("{\"steps\": [0, {\"parallel\": [1, 2]}], \"note\": \"" + std::string(1000, '[') + "\"}").find("nested"),
            std::string::npos);
}

TEST(PlanText, SingleLayersRangesAndReversedRanges) {
  EXPECT_EQ(parse_plan_text("7").steps, (std::vector<PlanStep>{one(7)}));
  EXPECT_EQ(parse_plan_text("2-4").steps, (std::vector<PlanStep>{one(2), one(3), one(4)}));
  EXPECT_EQ(parse_plan_text("4-2").steps, (std::vector<PlanStep>{one(4), one(3), one(2)}));
  EXPECT_EQ(parse_plan_text(" 0 , 3 - 4 ").steps, (std::vector<PlanStep>{one(0), one(3), one(4)}));
}

TEST(PlanText, RepeatedLayerBecomesSeparateSteps) {
  EXPECT_EQ(parse_plan_text("5x3").steps, (std::vector<PlanStep>{one(5), one(5), one(5)}));
}

TEST(PlanText, ParallelGroupsAndLoops) {
  Plan p = parse_plan_text("0-1,[2-4]x3,[5,7,9],10");
  ASSERT_EQ(p.steps.size(), 5u);
  EXPECT_EQ(p.steps[2], (PlanStep{{2, 3, 4}, 3}));
  EXPECT_EQ(p.steps[3], (PlanStep{{5, 7, 9}, 1}));
  EXPECT_EQ(p.steps[4], one(10));
  EXPECT_EQ(parse_plan_text("[1-2,6]").steps[0], (PlanStep{{1, 2, 6}, 1}));
}

TEST(PlanText, PaperExample) {
  Plan p = parse_plan_text("0-3,[4-27]x3,28-31");
  ASSERT_EQ(p.steps.size(), 9u);
  EXPECT_EQ(p.steps[4].layers.size(), 24u);
  EXPECT_EQ(p.steps[4].iterations, 3);
}

TEST(PlanText, TextRoundTrip) {
  for (const char* t : {"0-2", "0,1", "0,[1-4]x3,5", "3,[1,5],0", "[1,2,4-6,9]x2", "0-3,7-5,5,5"}) EXPECT_EQ(plan_to_text(parse_plan_text(t)), t);
}


TEST(PlanText, ErrorsNamePosition) {
  EXPECT_NE(error_of("0,,1").find("position 3"), std::string::npos) << error_of("0,,1");
  EXPECT_NE(error_of("0,[]").find("empty parallel group"), std::string::npos);
  EXPECT_NE(error_of("[1,2").find("ended"), std::string::npos);
  EXPECT_NE(error_of("1x0").find("at least 1"), std::string::npos);
  EXPECT_NE(error_of("a").find("position 1"), std::string::npos);
  EXPECT_NE(error_of("1;2").find("position 2"), std::string::npos);
  EXPECT_NE(error_of("").find("empty plan"), std::string::npos);
  EXPECT_NE(error_of("99999999").find("too large"), std::string::npos);
}

TEST(PlanJson, GoldenStepsForm) {
  auto j = nlohmann::json::parse(R"([0, {"parallel": [1, 2, 3, 4], "iterations": 3}, 5])");
  Plan p = parse_plan_json(j);
  ASSERT_EQ(p.steps.size(), 3u);
  EXPECT_EQ(p.steps[1], (PlanStep{{1, 2, 3, 4}, 3}));
  EXPECT_EQ(parse_plan_json(plan_to_json(p)), p);
  EXPECT_EQ(parse_plan_arg(R"({"steps": [0, 5]})").steps, (std::vector<PlanStep>{one(0), one(5)}));
}

TEST(PlanJson, ErrorsNameTheField) {
  auto err = [](const std::string& s) {
    try {
      parse_plan_arg(s);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(err(R"({"steps": [0, "a"]})").find("steps[1]"), std::string::npos);
  EXPECT_NE(err(R"({"steps": [{"parallel": []}]})").find("empty parallel group"), std::string::npos);
  EXPECT_NE(err(R"({"steps": [{"parallel": [1], "iterations": 0}]})").find("iterations"), std::string::npos);
  EXPECT_NE(err(R"({"steps": [0, )").find("not valid JSON"), std::string::npos);
  EXPECT_NE(err(R"({"stops": []})").find("'steps'"), std::string::npos);
  // Regression: misspelt fields were ignored ("iter": 3 ran one iteration).
  EXPECT_NE(err(R"({"steps": [{"parallel": [1, 2], "iter": 3}]})").find("unknown field \"iter\""), std::string::npos);
  EXPECT_NE(err(R"({"steps": [0], "note": "x"})").find("unknown field \"note\""), std::string::npos);
  EXPECT_NE(err(R"({"steps": [0, 4294967296]})").find("steps[1]"), std::string::npos);
  EXPECT_NE(err(R"({"steps": [0], "steps": [1]})").find("duplicate key"), std::string::npos);
  EXPECT_EQ(parse_plan_arg(R"({"name": "mine", "steps": [0]})").steps.size(), 1u);
  EXPECT_NE(err("@/nonexistent/plan.json").find("cannot open"), std::string::npos);
}

TEST(PlanValidate, OutOfRangeLayer) {
  try {
    validate_plan(parse_plan_text("0,[1,6]"), 6);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 6 does not exist"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("step 2"), std::string::npos) << e.what();
  }
}

TEST(PlanPrefix, CommonPrefix) {
  EXPECT_EQ(common_prefix(parse_plan_text("0,1,2,3"), parse_plan_text("0,1,[2,3]")), 2u);
  EXPECT_EQ(common_prefix(parse_plan_text("0,1"), parse_plan_text("0,1")), 2u);
}

}  // namespace
}  // namespace layerlab
