// Dataset records -> prompt strings, as lm-evaluation-harness builds them (see docs/EVAL.md).
#include "layerlab/eval_text.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cctype>
#include <regex>

#include <nlohmann/json.hpp>

#include "layerlab/documents.h"
#include "layerlab/error.h"
#include "util/json_read.h"

namespace layerlab::evaltext {

using nlohmann::json;

std::vector<Record> read_jsonl(const std::string& path) {
  std::vector<Record> out;
  for_each_jsonl_record(path, [&](const json& j, const std::string& where) {
    out.push_back({j, where});
    return true;
  });
  if (out.empty()) fail(path, "no records (expected JSON lines)");
  return out;
}

std::string str_field(const json& rec, const std::string& field, const std::string& where) {
  auto it = rec.find(field);
  if (it == rec.end()) fail(where, "missing field '" + field + "'");
  if (!it->is_string()) fail(where, "field '" + field + "' must be a string");
  return it->get<std::string>();
}

std::string py_strip(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // count every byte but continuation bytes
  return n;
}

static std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  // Python str.replace: left to right, non-overlapping, replacements are not rescanned.
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) out += s.substr(pos, hit - pos) + to;
  return out + s.substr(pos);
}

// " " + s, written out: g++ 12 warns falsely (-Wrestrict) on operator+(const char*, string).
static std::string space_then(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 1);
  out += ' ';
  out += s;
  return out;
}

LambadaItem lambada_item(const std::string& text) {
  // Jinja: text.split(' ')[:-1]|join(' ') and ' ' + text.split(' ')[-1]
  const size_t sp = text.rfind(' ');
  if (sp == std::string::npos) return {"", space_then(text)};
  return {text.substr(0, sp), space_then(text.substr(sp + 1))};
}

std::string hellaswag_preprocess(const std::string& text) {
  std::string t = py_strip(text);
  t = replace_all(t, " [title]", ". ");
  // re.sub("\\[.*?\\]", "", t): '.' does not match a newline.
  std::string out;
  for (size_t i = 0; i < t.size();) {
    if (t[i] == '[') {
      size_t j = i + 1;
      while (j < t.size() && t[j] != ']' && t[j] != '\n') ++j;
      if (j < t.size() && t[j] == ']') {
        i = j + 1;
        continue;
      }
    }
    out += t[i++];
  }
  return replace_all(out, "  ", " ");
}

std::string py_capitalize(const std::string& s) {
  std::string out = s;
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(out[i]);
    if (c < 0x80) out[i] = static_cast<char>(i == 0 ? std::toupper(c) : std::tolower(c));
  }
  return out;
}

static int int_field(const json& rec, const std::string& field, const std::string& where) {
  auto it = rec.find(field);
  if (it == rec.end()) fail(where, "missing field '" + field + "'");
  // Range-checked, not cast: a label 2^40 must not be scored as gold 0.
  if (it->is_number_integer()) return static_cast<int>(json_int(*it, INT_MIN, INT_MAX, where + ": field '" + field + "'"));
  if (it->is_string()) {  // HellaSwag ships labels as strings ("2"), WinoGrande its answer too
    const std::string s = it->get<std::string>();
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && *end == '\0' && errno == 0 && v >= INT_MIN && v <= INT_MAX) return static_cast<int>(v);
  }
  fail(where, "field '" + field + "' must be an integer (or a string holding one), got " + json_excerpt(*it));
}

static void check_gold(const ChoiceItem& item, const std::string& where) {
  if (item.gold < 0 || item.gold >= static_cast<int>(item.continuations.size()))
    fail(where, "gold answer index " + std::to_string(item.gold) + " is outside the " +
                    std::to_string(item.continuations.size()) + " choices");
}

ChoiceItem hellaswag_item(const json& rec, const std::string& where) {
  const std::string ctx = str_field(rec, "ctx_a", where) + " " + py_capitalize(str_field(rec, "ctx_b", where));
  const std::string query = hellaswag_preprocess(str_field(rec, "activity_label", where) + ": " + ctx);
  auto endings = rec.find("endings");
  if (endings == rec.end() || !endings->is_array() || endings->empty()) fail(where, "field 'endings' must be a non-empty array");
  ChoiceItem item;
  for (const auto& e : *endings) {
    if (!e.is_string()) fail(where, "field 'endings' must hold strings");
    const std::string choice = hellaswag_preprocess(e.get<std::string>());
    item.contexts.push_back(query);
    item.continuations.push_back(space_then(choice));
    item.norm_strings.push_back(choice);
  }
  item.gold = int_field(rec, "label", where);
  check_gold(item, where);
  return item;
}

ChoiceItem arc_item(const json& rec, const std::string& where) {
  const std::string ctx = "Question: " + str_field(rec, "question", where) + "\nAnswer:";
  auto ch = rec.find("choices");
  if (ch == rec.end() || !ch->is_object()) fail(where, "missing object field 'choices'");
  auto texts = ch->find("text");
  auto labels = ch->find("label");
  if (texts == ch->end() || labels == ch->end() || !texts->is_array() || !labels->is_array() || texts->size() != labels->size() ||
      texts->empty())
    fail(where, "'choices' must hold equally long non-empty arrays 'text' and 'label'");
  const std::string key = str_field(rec, "answerKey", where);
  ChoiceItem item;
  item.gold = -1;
  for (size_t i = 0; i < texts->size(); ++i) {
    if (!(*texts)[i].is_string() || !(*labels)[i].is_string()) fail(where, "'choices.text' and 'choices.label' must hold strings");
    const std::string choice = (*texts)[i].get<std::string>();
    item.contexts.push_back(ctx);
    item.continuations.push_back(space_then(choice));
    item.norm_strings.push_back(choice);
    if ((*labels)[i].get<std::string>() == key && item.gold < 0) item.gold = static_cast<int>(i);
  }
  if (item.gold < 0) fail(where, "answerKey '" + key + "' is not one of the choice labels");
  return item;
}

ChoiceItem winogrande_item(const json& rec, const std::string& where) {
  const std::string sentence = str_field(rec, "sentence", where);
  const size_t blank = sentence.find('_');
  if (blank == std::string::npos) fail(where, "field 'sentence' has no blank '_'");
  const std::string target = space_then(py_strip(sentence.substr(blank + 1)));
  ChoiceItem item;
  for (const char* opt : {"option1", "option2"}) {
    const std::string ctx = sentence.substr(0, blank) + str_field(rec, opt, where);
    item.contexts.push_back(ctx);
    item.continuations.push_back(target);
    item.norm_strings.push_back(ctx);  // lm-eval multiple_input: the contexts are the "choices"
  }
  const int answer = int_field(rec, "answer", where);
  if (answer != 1 && answer != 2) fail(where, "field 'answer' must be \"1\" or \"2\"");
  item.gold = answer - 1;
  return item;
}

std::string gsm8k_question(const std::string& question) { return "Question: " + question + "\nAnswer:"; }

std::string gsm8k_prompt(const std::vector<std::pair<std::string, std::string>>& shots, const std::string& question) {
  std::string out;
  for (const auto& [q, a] : shots) out += gsm8k_question(q) + " " + a + "\n\n";
  return out + gsm8k_question(question);
}

const std::vector<std::string>& gsm8k_stop_strings() {
  static const std::vector<std::string> stops = {"\n\n", "Question:"};
  return stops;
}

std::string cut_at_stop(const std::string& text, const std::vector<std::string>& stops) {
  size_t cut = text.size();
  for (const auto& s : stops) cut = std::min(cut, text.find(s));
  return text.substr(0, cut);
}

std::string gsm8k_normalise(const std::string& s) {
  std::string t;
  for (char c : s)
    if (c != ',' && c != '$') t += c;
  const size_t hash = t.rfind("#### ");  // "(?s).*#### " is greedy: up to the last one
  if (hash != std::string::npos) t = t.substr(hash + 5);
  if (!t.empty() && t.back() == '.') t.pop_back();  // "\\.$"
  for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return py_strip(t);
}

std::string gsm8k_reference(const std::string& answer) { return gsm8k_normalise(answer); }

std::string gsm8k_strict(const std::string& response) {
  static const std::regex re("#### (\\-?[0-9\\.\\,]+)");
  std::smatch m;
  if (!std::regex_search(response, m, re)) return "";
  return m[1].str();
}

std::string gsm8k_flexible(const std::string& response) {
  static const std::regex re("(-?[$0-9.,]{2,})|(-?[0-9]+)");
  std::string last;
  for (auto it = std::sregex_iterator(response.begin(), response.end(), re); it != std::sregex_iterator(); ++it)
    last = (*it)[1].matched ? (*it)[1].str() : (*it)[2].str();
  return last;
}

}  // namespace layerlab::evaltext
