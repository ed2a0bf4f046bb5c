// GLUE records and BERT's pair encoding. Expected ids come from the Hugging Face tokenizer
// golden file (../shared/golden/tokenizer_golden.json); truncation lengths are worked by hand
// from the tokenizers crate's LongestFirst rule; record counts from ../shared/data/SOURCES.md.
#include <gtest/gtest.h>

#include <fstream>

#include "golden.h"
#include "layerlab/error.h"
#include "layerlab/glue.h"
#include "layerlab/tokenizer.h"
#include "tokenize/tokenizer_golden.h"

using namespace layerlab;
using namespace layerlab::testing;

namespace {

std::string glue_dir() { return shared_dir() + "/data/glue"; }

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

// The Error message of reading `text` as `task`, or "" when it reads.
std::string read_error(const std::string& task, const std::string& text) {
  const std::string path = write_temp(task + "_bad.jsonl", text);
  try {
    glue::read_file(path, glue::task_spec(task));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::vector<int32_t> inner(const std::vector<int32_t>& with_cls_sep) {
  return {with_cls_sep.begin() + 1, with_cls_sep.end() - 1};
}

}  // namespace

TEST(GlueData, ReadsEverySplitWithItsCount) {
  const std::vector<std::tuple<std::string, std::string, size_t>> counts = {
      {"cola", "train", 8551}, {"cola", "validation", 1043}, {"sst2", "validation", 872},
      {"mrpc", "train", 3668}, {"mrpc", "validation", 408},  {"stsb", "train", 5749},
      {"stsb", "validation", 1500}, {"rte", "train", 2490}, {"rte", "validation", 277},
      {"qnli", "validation", 5463}};
  for (const auto& [task, split, n] : counts) EXPECT_EQ(glue::read_split(glue_dir(), glue::task_spec(task), split).size(), n) << task;
  const auto mrpc = glue::read_split(glue_dir(), glue::task_spec("mrpc"), "validation", 1);
  ASSERT_EQ(mrpc.size(), 1u);
  EXPECT_EQ(mrpc[0].a, "He said the foodservice pie business doesn't fit the company's long-term growth strategy.");
  EXPECT_EQ(mrpc[0].label, 1);
  const auto sts = glue::read_split(glue_dir(), glue::task_spec("stsb"), "validation", 2);
  EXPECT_DOUBLE_EQ(sts[1].score, 4.75);
  const auto qnli = glue::read_split(glue_dir(), glue::task_spec("qnli"), "validation", 1);
  EXPECT_EQ(qnli[0].a, "What came into force after the new constitution was herald?");
}

TEST(GlueData, BadRecordsNameFileLineAndField) {
  const std::string ok = "{\"sentence\": \"fine\", \"label\": 1, \"idx\": 0}\n";
  auto expect = [](const std::string& msg, const std::string& line_and_field) {
    EXPECT_NE(msg.find("_bad.jsonl:2"), std::string::npos) << msg;
    EXPECT_NE(msg.find(line_and_field), std::string::npos) << msg;
  };
  expect(read_error("sst2", ok + "{\"label\": 1, \"idx\": 1}\n"), "'sentence'");
  expect(read_error("sst2", ok + "{\"sentence\": \"x\", \"idx\": 1}\n"), "'label'");
  expect(read_error("sst2", ok + "{\"sentence\": \"x\", \"label\": 2}\n"), "'label'");
  expect(read_error("sst2", ok + "{\"sentence\": \"x\", \"label\": -1}\n"), "'label'");
  expect(read_error("sst2", ok + "{\"sentence\": \"x\", \"label\": 1.0}\n"), "'label'");
  expect(read_error("sst2", ok + "{\"sentence\": \"x\", \"label\": true}\n"), "'label'");
  expect(read_error("sst2", ok + "{\"sentence\": \"x\", \"label\": \"1\"}\n"), "'label'");
  expect(read_error("sst2", ok + "{\"sentence\": 7, \"label\": 1}\n"), "'sentence'");
  expect(read_error("sst2", ok + "{\"sentence\": \"x\", \"label\": 1, \"idx\": -3}\n"), "'idx'");
  expect(read_error("sst2", ok + "[1, 2]\n"), "object");
  const std::string pair = "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": 3.2}\n";
  expect(read_error("stsb", pair + "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": 5.5}\n"), "'label'");
  expect(read_error("stsb", pair + "{\"sentence1\": \"a\", \"label\": 1}\n"), "'sentence2'");
  expect(read_error("qnli", "{\"question\": \"q\", \"sentence\": \"s\", \"label\": 0}\n{\"question\": \"q\", \"label\": 0}\n"),
         "'sentence'");
  EXPECT_EQ(read_error("stsb", pair), "");
  EXPECT_NE(read_error("sst2", "{\"sentence\": \"x\", \"label\": 1}\n{\"sentence\": \"tr").find("_bad.jsonl:2"), std::string::npos);
  EXPECT_THROW(glue::task_spec("mnli"), Error);
}

TEST(GlueData, LongestFirstLengthsAsHuggingFace) {
  using P = std::pair<int64_t, int64_t>;
  EXPECT_EQ(glue::longest_first(3, 3, 10), P(3, 3));   // fits
  EXPECT_EQ(glue::longest_first(10, 3, 8), P(5, 3));   // only the longer is cut
  EXPECT_EQ(glue::longest_first(3, 10, 8), P(3, 5));
  EXPECT_EQ(glue::longest_first(6, 6, 7), P(3, 4));    // equal: the second keeps the odd token
  EXPECT_EQ(glue::longest_first(9, 4, 7), P(4, 3));    // both cut: shorter 7/2, longer the rest
  EXPECT_EQ(glue::longest_first(20, 0, 5), P(5, 0));   // a single sentence
  EXPECT_EQ(glue::longest_first(30, 40, 0), P(0, 0));
}

TEST(GlueData, EncodesPairsAsBert) {
  const auto tok = load_tokenizer(shared_dir() + "/golden/bert-tiny");
  const auto& g = tokenizer_golden();
  const std::vector<int32_t> a = inner(g.bert_uncased[0]), b = inner(g.bert_uncased[1]);  // "Hello, world!", ...
  const glue::Encoder enc(*tok, 128);
  const glue::Encoded single = enc.encode(g.texts[0]);
  EXPECT_EQ(single.ids, g.bert_uncased[0]);
  EXPECT_EQ(single.types, std::vector<int32_t>(single.ids.size(), 0));
  const glue::Encoded p = enc.encode(g.texts[0], g.texts[1]);
  std::vector<int32_t> want = g.bert_uncased[0];
  want.insert(want.end(), b.begin(), b.end());
  want.push_back(102);
  EXPECT_EQ(p.ids, want);
  std::vector<int32_t> types(a.size() + 2, 0);
  types.resize(want.size(), 1);
  EXPECT_EQ(p.types, types);
  // max_length 9: budget 6 for |a| = 4, |b| = 8: both cut to 3 + 3.
  const glue::Encoded cut = glue::Encoder(*tok, 9).encode(g.texts[0], g.texts[1]);
  const std::vector<int32_t> want_cut = {101, a[0], a[1], a[2], 102, b[0], b[1], b[2], 102};
  EXPECT_EQ(cut.ids, want_cut);
  EXPECT_EQ(glue::Encoder(*tok, 4).encode(g.texts[1]).ids, (std::vector<int32_t>{101, b[0], b[1], 102}));
  EXPECT_THROW(glue::Encoder(*tok, 2), Error);
  // A pair task keeps an empty second text as an empty segment: [CLS] a [SEP] [SEP].
  const glue::Encoded empty_b = enc.encode(glue::task_spec("rte"), glue::Example{g.texts[0], "", 0, 0, 0});
  EXPECT_EQ(empty_b.ids.size(), g.bert_uncased[0].size() + 1);
  EXPECT_EQ(empty_b.types.back(), 1);
}
