// Round trips, the GPT-2 pre-tokenizer's splits, and defined behaviour on empty, invalid
// UTF-8 and 10 MB inputs for every family.
#include <gtest/gtest.h>

#include <ctime>

#include "layerlab/error.h"
#include "layerlab/tokenizer.h"
#include "tokenize/pretokenize_gpt2.h"
#include "tokenizer_golden.h"
#include "varied_text.h"

namespace layerlab::testing {
namespace {

const Tokenizer& gpt2() {
  static auto t = load_tokenizer(shared_dir() + "/tokenizers/gpt2");
  return *t;
}
const Tokenizer& llama() {
  static auto t = load_tokenizer(shared_dir() + "/tokenizers/llama2");
  return *t;
}
const Tokenizer& bert() {
  static auto t = load_tokenizer(shared_dir() + "/tokenizers/bert-uncased");
  return *t;
}

// Id of a piece, read straight from vocab.json (independent of the tokenizer code).
int32_t gpt2_vocab_id(const std::string& piece) {
  static const auto v = nlohmann::json::parse(read_text_file(shared_dir() + "/tokenizers/gpt2/vocab.json"));
  return v.at(piece).get<int32_t>();
}

void expect_ids_in_range(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok.vocab_size()) << id;
}

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string_view> v;
  tok::split_gpt2(s, v);
  return {v.begin(), v.end()};
}

using V = std::vector<std::string>;

// Expected splits worked out by hand from the regex
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
TEST(Gpt2PreTokenizer, MatchesTheRegex) {
  EXPECT_EQ(split("Hello, world!"), (V{"Hello", ",", " world", "!"}));
  EXPECT_EQ(split("a  b"), (V{"a", " ", " b"}));
  EXPECT_EQ(split("a \t\nb"), (V{"a", " \t", "\n", "b"}));
  EXPECT_EQ(split("trailing  "), (V{"trailing", "  "}));
  EXPECT_EQ(split("don't DON'T"), (V{"don", "'t", " DON", "'", "T"}));
  EXPECT_EQ(split("we'll they're 'sam"), (V{"we", "'ll", " they", "'re", " '", "sam"}));
  EXPECT_EQ(split("?'s"), (V{"?'", "s"}));
  EXPECT_EQ(split("123abc 3.14"), (V{"123", "abc", " 3", ".", "14"}));
  EXPECT_EQ(split("你好 世界"), (V{"你好", " 世界"}));
  EXPECT_EQ(split("a\u3000b"), (V{"a", "\u3000", "b"}));   // ideographic space is \s
  EXPECT_EQ(split("\u00a0x"), (V{"\u00a0", "x"}));         // so is no-break space
  EXPECT_EQ(split("x 👍🏽!"), (V{"x", " 👍🏽!"}));            // symbols are [^\s\p{L}\p{N}]
  EXPECT_EQ(split("Ⅻ½٣"), (V{"Ⅻ½٣"}));                   // Nl, No, Nd are all \p{N}
  EXPECT_EQ(split("e\u0301"), (V{"e", "\u0301"}));         // a mark is not a letter
  EXPECT_EQ(split("a\xff" "b \xfe\xc3"), (V{"a", "\xff", "b", " \xfe\xc3"}));  // invalid bytes
  EXPECT_EQ(split(""), V{});
}

TEST(Gpt2RoundTrip, GoldenTexts) {
  for (const auto& t : tokenizer_golden().texts) EXPECT_EQ(gpt2().decode(gpt2().encode(t)), t);
}

TEST(Gpt2RoundTrip, OneMegabyteOfVariedText) {
  const std::string text = varied_text(1 << 20);
  const auto ids = gpt2().encode(text);
  expect_ids_in_range(gpt2(), ids);
  EXPECT_EQ(gpt2().decode(ids), text);
  EXPECT_EQ(gpt2().encode(text), ids);  // the word cache changes nothing
}

TEST(Gpt2Robust, EmptyInput) {
  EXPECT_TRUE(gpt2().encode("").empty());
  EXPECT_TRUE(gpt2().encode("", {.parse_special = true}).empty());
  EXPECT_EQ(gpt2().decode({}), "");
}

// Invalid bytes are encoded as their byte tokens, so decoding gives the same bytes back.
TEST(Gpt2Robust, InvalidUtf8IsEncodedAsByteTokens) {
  EXPECT_EQ(gpt2().encode("\xff"), std::vector<int32_t>{gpt2_vocab_id("ÿ")});  // byte 0xFF is U+00FF
  EXPECT_EQ(gpt2().encode("\x80"), std::vector<int32_t>{gpt2_vocab_id("Ģ")});  // 0x80 maps to U+0122
  for (std::string s : {std::string("\xff\xfe abc \xc3"), std::string("\xed\xa0\x80 surrogate"),
                        std::string("\xc0\xaf overlong \xf4\x90\x80\x80"), std::string("ok \xe2\x82 cut"),
                        std::string("nul\0inside", 10)}) {
    const auto ids = gpt2().encode(s);
    expect_ids_in_range(gpt2(), ids);
    EXPECT_EQ(gpt2().decode(ids), s);
  }
}

TEST(Gpt2Robust, TenMegabytes) {
  const std::string text = varied_text(10 << 20, 7);
  const auto ids = gpt2().encode(text);
  EXPECT_EQ(gpt2().decode(ids), text);
  // One 10 MB word: merging is O(n log n) (a few CPU seconds; quadratic would take hours).
  // The bound is loose so that sanitizer builds on a busy machine pass too.
  const std::string word(10 << 20, 'a');
  const std::clock_t c0 = std::clock();
  const auto wids = gpt2().encode(word);
  EXPECT_LT(double(std::clock() - c0) / CLOCKS_PER_SEC, 120.0);
  EXPECT_EQ(gpt2().decode(wids), word);
}

TEST(Gpt2Robust, BadIdsAreErrors) {
  const std::vector<int32_t> bad{15496, 50257};
  EXPECT_THROW(gpt2().decode(bad), Error);
  EXPECT_THROW(gpt2().piece(-1), Error);
}

TEST(LlamaRoundTrip, GoldenTextsAndVariedText) {
  for (const auto& t : tokenizer_golden().texts) EXPECT_EQ(llama().decode(llama().encode(t)), t);
  const std::string text = varied_text(1 << 18, 99);
  EXPECT_EQ(llama().decode(llama().encode(text)), text);
}

TEST(LlamaRobust, EmptyInvalidAndLarge) {
  EXPECT_TRUE(llama().encode("").empty());
  EXPECT_EQ(llama().encode("", {.add_bos = true}), std::vector<int32_t>{1});
  // Invalid bytes become U+FFFD, which Llama's byte fallback spells <0xEF><0xBF><0xBD>.
  const auto ids = llama().encode("a\xff" "b");
  expect_ids_in_range(llama(), ids);
  EXPECT_EQ(llama().decode(ids), "a\xef\xbf\xbd" "b");
  const std::string big = varied_text(10 << 20, 3);
  const auto big_ids = llama().encode(big);
  EXPECT_GT(big_ids.size(), 1000000u);
  expect_ids_in_range(llama(), big_ids);
  EXPECT_THROW(llama().decode(std::vector<int32_t>{32000}), Error);
}

TEST(BertRobust, EmptyInvalidAndLarge) {
  EXPECT_TRUE(bert().encode("").empty());
  const int32_t cls = bert().bos_id(), sep = bert().eos_id();
  EXPECT_EQ(bert().encode("", {.add_special = true}), (std::vector<int32_t>{cls, sep}));
  // Invalid bytes become U+FFFD, which the cleaning step removes (as it removes U+FFFD).
  EXPECT_EQ(bert().encode("hel\xfflo"), bert().encode("hello"));
  EXPECT_EQ(bert().encode("hel\xef\xbf\xbdlo"), bert().encode("hello"));
  const std::string big = varied_text(10 << 20, 5);
  const auto ids = bert().encode(big);
  EXPECT_GT(ids.size(), 1000000u);
  expect_ids_in_range(bert(), ids);
}

// Words longer than 100 characters are one [UNK]; 100 is still split into pieces.
TEST(BertRobust, OverlongWordIsUnknown) {
  const auto long_ids = bert().encode(std::string(101, 'a'));
  ASSERT_EQ(long_ids.size(), 1u);
  EXPECT_EQ(bert().piece(long_ids[0]), "[UNK]");
  const auto ok_ids = bert().encode(std::string(100, 'a'));
  EXPECT_GT(ok_ids.size(), 1u);
  for (int32_t id : ok_ids) EXPECT_NE(bert().piece(id), "[UNK]");
}

TEST(BertDecode, BestEffortJoin) {
  const auto& g = tokenizer_golden();
  // "The quick brown fox jumps over the lazy dog." comes back lower-cased.
  EXPECT_EQ(bert().decode(g.bert_uncased[15]), "the quick brown fox jumps over the lazy dog.");
}

}  // namespace
}  // namespace layerlab::testing
