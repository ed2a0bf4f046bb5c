#pragma once
// The text side of each task: how a dataset record becomes (context, continuation) strings,
// following lm-evaluation-harness (docs/EVAL.md cites the task files). Pure functions, so the
// conventions are tested without a model.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace layerlab::evaltext {

// JSON lines of a file; blank lines skipped; Error "FILE:LINE: ..." on bad JSON.
struct Record {
  nlohmann::json value;
  std::string where;  // "FILE:LINE", for errors about the record's fields
};
std::vector<Record> read_jsonl(const std::string& path);
// A string field of a record; Error naming file, line and field when missing or not a string.
std::string str_field(const nlohmann::json& rec, const std::string& field, const std::string& where);

// One multiple-choice item: a context per choice (winogrande) or one shared context, the
// continuations, and the strings whose lengths acc_norm divides by.
struct ChoiceItem {
  std::vector<std::string> contexts;       // one per choice
  std::vector<std::string> continuations;  // one per choice
  std::vector<std::string> norm_strings;   // lm-eval: len(choice) (code points) per choice
  int gold = 0;
};

// lambada_openai: context = text without its last space-separated word, target = " " + last word.
struct LambadaItem {
  std::string context, target;
};
LambadaItem lambada_item(const std::string& text);

// hellaswag's preprocess(): strip, " [title]" -> ". ", drop "[...]", "  " -> " ".
std::string hellaswag_preprocess(const std::string& text);
// Python's str.capitalize() for ASCII: first character upper, the rest lower.
std::string py_capitalize(const std::string& s);
ChoiceItem hellaswag_item(const nlohmann::json& rec, const std::string& where);
// arc: "Question: " + question + "\nAnswer:", choices " " + text, gold = labels.index(answerKey).
ChoiceItem arc_item(const nlohmann::json& rec, const std::string& where);
// winogrande (partial scoring): contexts = sentence[:blank] + option, continuation =
// " " + sentence[blank + 1:].strip(), gold = answer - 1.
ChoiceItem winogrande_item(const nlohmann::json& rec, const std::string& where);

// gsm8k: "Question: " + q + "\nAnswer:"; a shot is that + " " + answer; shots joined by "\n\n".
std::string gsm8k_question(const std::string& question);
std::string gsm8k_prompt(const std::vector<std::pair<std::string, std::string>>& shots, const std::string& question);
// Generation stops at the first of these (lm-eval gsm8k.yaml `until`).
const std::vector<std::string>& gsm8k_stop_strings();
// Cuts text at the earliest stop string.
std::string cut_at_stop(const std::string& text, const std::vector<std::string>& stops);
// Reference answer: the text after the last "#### ", normalised.
std::string gsm8k_reference(const std::string& answer);
// strict-match: first "#### (-?[0-9.,]+)"; flexible-extract: last match of
// "(-?[$0-9.,]{2,})|(-?[0-9]+)". Empty when nothing matches ("[invalid]" in lm-eval).
std::string gsm8k_strict(const std::string& response);
std::string gsm8k_flexible(const std::string& response);
// lm-eval exact_match normalisation: remove ",", "$", anything up to "#### ", one trailing
// ".", lower-case; surrounding whitespace trimmed.
std::string gsm8k_normalise(const std::string& s);

// Python str.strip() for ASCII whitespace.
std::string py_strip(const std::string& s);
// Number of Unicode code points (Python len) of UTF-8 text.
size_t code_points(const std::string& s);

}  // namespace layerlab::evaltext
