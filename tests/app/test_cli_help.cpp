// The CLI's help: `layerlab --help` lists the commands; `layerlab CMD --help` (exit 0, no model
// loaded) prints CMD's option table, one entry per option with its type, a description and its
// default (or "required"), taken from the same table the parser uses; unknown options stay errors.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "cli_run.h"

namespace layerlab::testing {
namespace {

const std::vector<std::string> kCommands = {"info",  "forward", "generate", "similarity", "tokenize",
                                            "train", "finetune", "serve", "eval",   "sweep",      "plot"};

// One entry of a help table: "--name, -s TYPE" and the text after it (continuation lines joined).
struct Entry {
  std::string names, type, text;
  bool flag() const { return type.empty(); }
};

// The entries under "options:" of `CMD --help`, in order.
std::vector<Entry> help_entries(const std::string& help) {
  std::vector<Entry> out;
  bool in_options = false;
  size_t pos = 0;
  while (pos < help.size()) {
    size_t end = help.find('\n', pos);
    if (end == std::string::npos) end = help.size();
    const std::string line = help.substr(pos, end - pos);
    pos = end + 1;
    if (line == "options:") {
      in_options = true;
      continue;
    }
    if (!in_options || line.empty()) continue;
    if (line.rfind("  -", 0) == 0) {
      // "  --tokens, -n INT     number of ..." : the left column ends at two spaces (or the line).
      const std::string rest = line.substr(2);
      const size_t gap = rest.find("  ");
      const std::string left = rest.substr(0, gap);
      Entry e;
      const size_t sp = left.rfind(' ');
      const std::string last = sp == std::string::npos ? left : left.substr(sp + 1);
      if (sp != std::string::npos && !last.empty() && last[0] != '-') {
        e.names = left.substr(0, sp);
        e.type = last;
      } else {
        e.names = left;
      }
      if (gap != std::string::npos) e.text = rest.substr(rest.find_first_not_of(' ', gap));
      out.push_back(e);
    } else if (!out.empty() && line.rfind("    ", 0) == 0) {
      out.back().text += " " + line.substr(line.find_first_not_of(' '));
    }
  }
  return out;
}

std::string first_name(const Entry& e) { return e.names.substr(0, e.names.find(',')); }

std::map<std::string, Entry> by_name(const std::vector<Entry>& entries) {
  std::map<std::string, Entry> m;
  for (const Entry& e : entries) m[first_name(e)] = e;
  return m;
}

TEST(CliHelp, TopLevelListsEveryCommand) {
  const CliRun r = run_cli("--help");
  EXPECT_EQ(r.status, 0) << r.out;
  for (const auto& c : kCommands) EXPECT_NE(r.out.find("  " + c + " "), std::string::npos) << c << "\n" << r.out;
}

// Every command: exit 0 without a model, and every option has a type (or is a flag), a
// description, and its default or "required".
TEST(CliHelp, EveryOptionHasADescriptionAndADefault) {
  for (const auto& c : kCommands) {
    const CliRun r = run_cli(c + " --help");
    ASSERT_EQ(r.status, 0) << c << "\n" << r.out;
    EXPECT_EQ(r.out.rfind("usage: layerlab " + c, 0), 0u) << r.out;
    const auto entries = help_entries(r.out);
    ASSERT_GE(entries.size(), 2u) << c << "\n" << r.out;
    for (const Entry& e : entries) {
      SCOPED_TRACE(c + " " + e.names);
      EXPECT_EQ(e.names.rfind("--", 0), 0u) << r.out;
      // A description: words, not only the parenthesised notes.
      const std::string desc = e.text.substr(0, e.text.rfind(" ("));
      EXPECT_GE(desc.size(), 8u) << "no description: '" << e.text << "'\n" << r.out;
      if (e.flag()) {
        if (e.names != "--help, -h") EXPECT_NE(e.text.find("(default: off)"), std::string::npos) << e.text;
        continue;
      }
      EXPECT_TRUE(e.type == "INT" || e.type == "FLOAT" || e.type == "SEED" ||
                  e.type.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == std::string::npos)
          << "type '" << e.type << "'";
      const bool required = e.text.find("required)") != std::string::npos;
      const bool has_default = e.text.find("default: ") != std::string::npos;
      EXPECT_TRUE(required || has_default) << "no default and not required: '" << e.text << "'";
    }
  }
}

// The table is the parser's: every option it lists is accepted (an error about its value or
// another option, never "unknown option").
TEST(CliHelp, EveryListedOptionIsAccepted) {
  for (const auto& c : kCommands) {
    const CliRun h = run_cli(c + " --help");
    for (const Entry& e : help_entries(h.out)) {
      const std::string name = first_name(e);
      if (name == "--help") continue;
      const CliRun r = run_cli(c + " " + name);
      EXPECT_EQ(r.out.find("unknown option"), std::string::npos) << c << " " << name << ": " << r.out;
      EXPECT_NE(r.status, 3) << c << " " << name << ": " << r.out;
    }
  }
}

// Defaults shown are the ones used (a sample of each kind: integer, number, text, seed).
TEST(CliHelp, ShowsTheDefaultsInUse) {
  const std::map<std::string, std::map<std::string, std::string>> expected = {
      {"generate",
       {{"--tokens", "default: 50"}, {"--temperature", "default: 0.8"}, {"--top-k", "default: 40"},
        {"--top-p", "default: 0.95"}, {"--seed", "default: 1"}, {"--model", "required"}, {"--device", "default: cpu"},
        {"--plan", "default: the full model"}}},
      {"forward", {{"--k", "default: 3"}, {"--seed", "default: 0"}, {"--dtype", "default: f32"}}},
      {"eval",
       {{"--batch-tokens", "default: 4096"}, {"--num-fewshot", "default: 5"}, {"--mask-rate", "default: 0.15"},
        {"--mask-seed", "default: 1234"}, {"--task", "required"}, {"--window", "default: the model's context"}}},
      {"sweep", {{"--seeds", "default: 1"}, {"--variants", "default: all"}, {"--n", "default: all"},
                 {"--format", "default: text"}}},
      {"similarity", {{"--out", "default: similarity"}, {"--max-tokens", "default: 512"}}},
      {"serve", {{"--port", "default: 8080"}, {"--host", "default: 127.0.0.1"}}},
      {"train", {{"--layers", "default: 6"}, {"--lr", "default: 0.001"}, {"--blocks", "default: preln"},
                 {"--seed", "default: 1234"}}},
  };
  for (const auto& [cmd, opts] : expected) {
    const CliRun r = run_cli(cmd + " --help");
    const auto entries = by_name(help_entries(r.out));
    for (const auto& [name, want] : opts) {
      ASSERT_TRUE(entries.count(name)) << cmd << " " << name << "\n" << r.out;
      EXPECT_NE(entries.at(name).text.find(want), std::string::npos)
          << cmd << " " << name << ": '" << entries.at(name).text << "' lacks '" << want << "'";
    }
  }
  // Ranges come from the same declaration as the check.
  const auto g = by_name(help_entries(run_cli("generate --help").out));
  EXPECT_NE(g.at("--tokens").text.find(">= 1"), std::string::npos) << g.at("--tokens").text;
  EXPECT_NE(g.at("--top-p").text.find("in [0, 1]"), std::string::npos) << g.at("--top-p").text;
  EXPECT_EQ(g.at("--tokens").names, "--tokens, -n");
}

TEST(CliHelp, UnknownOptionIsStillAnError) {
  CliRun r = run_cli("forward --model x --helpx");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("layerlab forward: error: --helpx: unknown option"), std::string::npos) << r.out;
  // Reported before a missing required option.
  r = run_cli("eval --tsk perplexity");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("--tsk: unknown option"), std::string::npos) << r.out;
}

TEST(CliHelp, UsageErrorsNameTheFlagAndExit1) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"forward --model x --ids", "--ids: missing value"},
      {"eval --model x --task perplexity --data --device cpu", "--data: missing value (the next argument is the option --device)"},
      {"info", "--model: required option is missing"},
      {"generate --model x --prompt a --top-k many", "--top-k: expected an integer, got 'many'"},
      {"generate --model x --prompt a --temperature 1e999", "--temperature: '1e999' is not a finite number"},
      {"generate --model x --prompt a --tokens 99999999999", "--tokens: '99999999999' is out of range"},
      {"sweep --summary r.jsonl --quiet=1", "--quiet: this flag takes no value"},
      {"info --model x extra", "'extra': unexpected argument"},
      {"eval --model x --task perplexity --data f --mask-seed -1", "--mask-seed: expected an integer >= 0"},
  };
  // A later value overrides an earlier one (scripts append overrides to a base command).
  const CliRun last = run_cli("info --model /nonexistent/a --model /nonexistent/b");
  EXPECT_NE(last.out.find("/nonexistent/b"), std::string::npos) << last.out;
  EXPECT_EQ(last.out.find("/nonexistent/a"), std::string::npos) << last.out;
  for (const auto& [args, want] : cases) {
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(want), std::string::npos) << args << "\n" << r.out;
  }
}

}  // namespace
}  // namespace layerlab::testing
