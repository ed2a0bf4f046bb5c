// `layerlab tokenize`: one line of ids (the reference ids), then id<TAB>piece per token.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli_run.h"
#include "tokenizer_golden.h"

namespace layerlab::testing {
namespace {

CliRun run(const std::string& args) { return run_cli("tokenize " + args); }

std::string join(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

TEST(TokenizeCli, Gpt2IdsAndPieces) {
  const auto& g = tokenizer_golden();
  const auto r = run("--model " + shared_dir() + "/tokenizers/gpt2 'Hello, world!'");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto l = lines(r.out);
  ASSERT_EQ(l.size(), 1 + g.gpt2[0].size()) << r.out;
  EXPECT_EQ(l[0], join(g.gpt2[0]));
  EXPECT_EQ(l[1], std::to_string(g.gpt2[0][0]) + "\tHello");
  EXPECT_EQ(l[3], std::to_string(g.gpt2[0][2]) + "\tĠworld");
}

// BOS as the model's policy says (Llama: added, as forward and eval read text), or not with
// --no-add-bos: then the ids are Hugging Face's encode(add_special_tokens=False) of the golden text.
TEST(TokenizeCli, LlamaBosAndFile) {
  const auto& g = tokenizer_golden();
  const auto path = std::filesystem::temp_directory_path() / ("layerlab_tok_cli_" + std::to_string(::getpid()));
  std::ofstream(path) << g.texts[15];
  const auto r = run("--model " + shared_dir() + "/tokenizers/llama2 --file " + path.string());
  const auto raw = run("--model " + shared_dir() + "/tokenizers/llama2 --no-add-bos --file " + path.string());
  std::filesystem::remove(path);
  ASSERT_EQ(r.status, 0) << r.out;
  std::vector<int32_t> want{1};
  want.insert(want.end(), g.llama2[15].begin(), g.llama2[15].end());
  EXPECT_EQ(lines(r.out).at(0), join(want));
  ASSERT_EQ(raw.status, 0) << raw.out;
  EXPECT_EQ(lines(raw.out).at(0), join(g.llama2[15]));
}

TEST(TokenizeCli, BertSpecial) {
  const auto& g = tokenizer_golden();
  const auto r = run("--model " + shared_dir() + "/tokenizers/bert-uncased --special 'Hello, world!'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(lines(r.out).at(0), join(g.bert_uncased[0]));
  EXPECT_EQ(lines(r.out).at(1), std::to_string(g.bert_uncased[0][0]) + "\t[CLS]");
}

TEST(TokenizeCli, MissingFolderIsAnError) {
  const auto r = run("--model /nonexistent/folder hi");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("/nonexistent/folder"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace layerlab::testing
