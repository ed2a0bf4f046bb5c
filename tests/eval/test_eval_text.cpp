// The text conventions of each task, against strings worked out by hand from the
// lm-evaluation-harness task definitions (cited in docs/EVAL.md).
#include <gtest/gtest.h>

#include <cmath>

#include "eval_fixtures.h"
#include "layerlab/error.h"
#include "layerlab/eval_text.h"

using namespace layerlab;
using namespace layerlab::evaltext;
using layerlab::testing::eval_data;

TEST(EvalText, LambadaSplitsOffTheLastWordWithItsSpace) {
  const auto it = lambada_item("he asked again for the salt");
  EXPECT_EQ(it.context, "he asked again for the");
  EXPECT_EQ(it.target, " salt");
  EXPECT_EQ(lambada_item("word").context, "");  // no space: empty context, whole text is the target
}

TEST(EvalText, HellaswagPreprocess) {
  // strip; " [title]" -> ". "; "[...]" removed; "  " -> " " (one pass, as Python's replace)
  EXPECT_EQ(hellaswag_preprocess("  Making a sandwich [title] Spread butter. [step] Add jam.  "),
            "Making a sandwich. Spread butter. Add jam.");
  EXPECT_EQ(hellaswag_preprocess("a   b"), "a  b");  // "   " -> "  " in a single replace pass
  EXPECT_EQ(hellaswag_preprocess("x [a\nb] y"), "x [a\nb] y");  // '.' in the regex does not cross lines
  EXPECT_EQ(py_capitalize("If It Feels DRY,"), "If it feels dry,");
}

TEST(EvalText, HellaswagItemsFromTheFixture) {
  const auto recs = read_jsonl(eval_data("hellaswag.jsonl"));
  ASSERT_EQ(recs.size(), 3u);
  const ChoiceItem a = hellaswag_item(recs[0].value, recs[0].where);
  EXPECT_EQ(a.contexts[0], "Baking cookies: A woman mixes flour and sugar in a large bowl. She");
  EXPECT_EQ(a.continuations[2], " adds two eggs and stirs the dough.");
  EXPECT_EQ(a.norm_strings[2], "adds two eggs and stirs the dough.");
  EXPECT_EQ(a.gold, 2);
  const ChoiceItem b = hellaswag_item(recs[1].value, recs[1].where);
  EXPECT_EQ(b.contexts[0],
            "Home and Garden: How to water a cactus. Check the soil first. Push a finger into the soil. If it feels dry,");
  EXPECT_EQ(b.continuations[0], " water it slowly until water drains out.");
  EXPECT_EQ(b.continuations[2], " move it to the freezer.");
  EXPECT_EQ(b.continuations[3], " sing to it loudly every night.");
  EXPECT_EQ(b.gold, 0);  // label given as the string "0"
  const ChoiceItem c = hellaswag_item(recs[2].value, recs[2].where);
  EXPECT_EQ(c.contexts[0], "Playing guitar: A man sits on a chair holding a guitar.");  // empty ctx_b, stripped
}

TEST(EvalText, ArcPromptAndLabels) {
  const auto recs = read_jsonl(eval_data("arc_easy.jsonl"));
  const ChoiceItem a = arc_item(recs[0].value, recs[0].where);
  EXPECT_EQ(a.contexts[0], "Question: Which of these is a source of light?\nAnswer:");
  EXPECT_EQ(a.continuations[0], " the Sun");
  EXPECT_EQ(a.gold, 0);
  EXPECT_EQ(arc_item(recs[1].value, recs[1].where).continuations.size(), 3u);
  EXPECT_EQ(arc_item(recs[2].value, recs[2].where).gold, 2);  // numeric labels "1".."4", key "3"
}

TEST(EvalText, WinograndePartialScoring) {
  const auto recs = read_jsonl(eval_data("winogrande.jsonl"));
  const ChoiceItem a = winogrande_item(recs[0].value, recs[0].where);
  EXPECT_EQ(a.contexts[0], "The trophy does not fit in the suitcase because the trophy");
  EXPECT_EQ(a.contexts[1], "The trophy does not fit in the suitcase because the suitcase");
  EXPECT_EQ(a.continuations[0], " is too small.");
  EXPECT_EQ(a.continuations[1], " is too small.");
  EXPECT_EQ(a.gold, 1);
}

TEST(EvalText, Gsm8kPromptAndExtraction) {
  EXPECT_EQ(gsm8k_prompt({{"Q1?", "A1\n#### 3"}}, "Q2?"), "Question: Q1?\nAnswer: A1\n#### 3\n\nQuestion: Q2?\nAnswer:");
  EXPECT_EQ(gsm8k_reference("She has 3 + 4 = <<3+4=7>>7.\n#### 1,007"), "1007");
  EXPECT_EQ(gsm8k_strict("so 2 + 2 = 4\n#### 4 apples"), "4");
  EXPECT_EQ(gsm8k_strict("the answer is 4"), "");
  EXPECT_EQ(gsm8k_flexible("I had 12 apples, ate 3, so $9.00."), "$9.00.");
  EXPECT_EQ(gsm8k_normalise("$9.00."), "9.00");
  EXPECT_EQ(gsm8k_flexible("x = 5"), "5");
  EXPECT_EQ(cut_at_stop("7\n#### 7\n\nQuestion: next", gsm8k_stop_strings()), "7\n#### 7");
  EXPECT_EQ(cut_at_stop("a Question: b\n\nc", gsm8k_stop_strings()), "a ");
}

TEST(EvalText, EncodePairMovesTrailingSpacesToTheContinuation) {
  const TextCodec c = layerlab::testing::byte_codec();
  const EncodedPair p = encode_pair(c, "ab ", "c");
  EXPECT_EQ(p.context, (std::vector<int32_t>{'a', 'b'}));
  EXPECT_EQ(p.continuation, (std::vector<int32_t>{' ', 'c'}));
  const EncodedPair e = encode_pair(c, "", "xy");  // empty context: the prefix token
  EXPECT_EQ(e.context, (std::vector<int32_t>{50256}));
}

TEST(EvalText, ContinuationSequenceTruncatesFromTheLeft) {
  EncodedPair p{{1, 2, 3, 4, 5}, {6, 7}};
  const ScoreSequence s = continuation_sequence(p, 4);
  // full = 1..7, keep the last 5 = 3..7, input = 3..6, rows 2,3 predict 6,7
  EXPECT_EQ(s.ids, (std::vector<int32_t>{3, 4, 5, 6}));
  EXPECT_EQ(s.rows, (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(s.targets, (std::vector<int32_t>{6, 7}));
  EXPECT_THROW(continuation_sequence({{1}, {2, 3, 4, 5, 6}}, 4), Error);  // continuation longer than the context
}

TEST(EvalText, Metrics) {
  // acc values 1,0,1,1: mean 0.75, sample sd sqrt(0.25) = 0.5, stderr 0.5 / 2 = 0.25
  EXPECT_DOUBLE_EQ(mean_of({1, 0, 1, 1}), 0.75);
  EXPECT_DOUBLE_EQ(mean_stderr({1, 0, 1, 1}), 0.25);
  EXPECT_TRUE(std::isnan(mean_stderr({1})));
  EXPECT_NEAR(perplexity_of({-1, -3}), std::exp(2.0), 1e-12);
  // Bootstrap of a constant sample has no spread.
  EXPECT_NEAR(perplexity_bootstrap_stderr({-2, -2, -2}), 0.0, 1e-12);
  // For many items the bootstrap approaches the delta method: ppl * sd / sqrt(n).
  std::vector<double> ll;
  for (int i = 0; i < 400; ++i) ll.push_back(-2.0 + 0.5 * ((i % 2) ? 1 : -1));
  const double delta = std::exp(2.0) * 0.5 / std::sqrt(400.0);
  EXPECT_NEAR(perplexity_bootstrap_stderr(ll), delta, 0.15 * delta);
  EXPECT_EQ(code_points("caf\xc3\xa9"), 4u);
}

TEST(EvalText, BadRecordsNameFileAndLine) {
  const std::string path = ::testing::TempDir() + "/bad.jsonl";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("{\"sentence\": \"no blank\", \"option1\": \"a\", \"option2\": \"b\", \"answer\": \"1\"}\n{oops\n", f);
    std::fclose(f);
  }
  try {
    read_jsonl(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2"), std::string::npos) << e.what();
  }
  nlohmann::json rec = {{"sentence", "no blank"}, {"option1", "a"}, {"option2", "b"}, {"answer", "1"}};
  try {
    winogrande_item(rec, "w.jsonl:1");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("w.jsonl:1"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("blank"), std::string::npos);
  }
}

// Regression: a label 2^40 was cast to int and scored as gold 0; labels stay range-checked.
TEST(EvalText, LabelsOutOfIntRangeAreErrorsNotTruncated) {
  const auto recs = read_jsonl(eval_data("hellaswag.jsonl"));
  for (const nlohmann::json& label : {nlohmann::json(int64_t(1) << 40), nlohmann::json("1099511627776"),
                                      nlohmann::json(-1), nlohmann::json("2x")}) {
    nlohmann::json rec = recs[0].value;
    rec["label"] = label;
    try {
      hellaswag_item(rec, "h.jsonl:1");
      FAIL() << "accepted label " << label.dump();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("h.jsonl:1"), std::string::npos) << e.what();
    }
  }
  nlohmann::json rec = recs[0].value;
  rec["label"] = "2";
  EXPECT_EQ(hellaswag_item(rec, "h.jsonl:1").gold, 2);
}
