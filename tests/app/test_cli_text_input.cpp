// One BOS policy for every text-taking command, stated by `info`, with --add-bos / --no-add-bos
// on each (issue 17), and similarity's --limit counting documents as eval's does (windows:
// --max-windows). Through the built CLI on the golden tiny GPT-2 and Llama.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_run.h"
#include "golden.h"

namespace layerlab::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kGpt2 = shared_dir() + "/golden/gpt2-tiny";
const std::string kLlama = shared_dir() + "/golden/llama-tiny";
const std::string kLambada = std::string(LAYERLAB_EVAL_DATA_DIR) + "/lambada_openai.jsonl";

// The last line printed (similarity's summary "W windows, T tokens; wrote ...").
std::string last_line(const std::string& out) {
  const size_t end = out.find_last_not_of('\n');
  const size_t start = out.rfind('\n', end);
  return out.substr(start == std::string::npos ? 0 : start + 1);
}

class TextInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("layerlab_text_input_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string file(const std::string& name, const std::string& content) const {
    std::ofstream((dir_ / name).string(), std::ios::binary | std::ios::trunc) << content;
    return (dir_ / name).string();
  }
  // gpt2-tiny with a tokenizer_config.json that asks for BOS.
  std::string gpt2_with_bos() const {
    const fs::path d = dir_ / "gpt2-bos";
    fs::create_directories(d);
    for (const char* f : {"config.json", "model.safetensors", "vocab.json", "merges.txt"})
      fs::copy_file(fs::path(kGpt2) / f, d / f);
    std::ofstream(d / "tokenizer_config.json") << R"({"add_bos_token": true, "bos_token": "<|endoftext|>"})";
    return d.string();
  }
  // The first item's summed log-likelihood of eval lambada_openai with these flags.
  double lambada_loglik(const std::string& model, const std::string& flags, bool* add_bos = nullptr) {
    const std::string s = (dir_ / "s.jsonl").string();
    const CliRun r = run_cli("eval --model " + model + " --task lambada_openai --data " + kLambada + " --limit 1 " +
                             flags + " --log-samples " + s);
    EXPECT_EQ(r.status, 0) << r.out;
    std::ifstream in(s);
    std::string setup, item;
    std::getline(in, setup);
    std::getline(in, item);
    if (add_bos) *add_bos = json::parse(setup)["setup"]["add_bos"].get<bool>();
    return json::parse(item)["loglikelihood"].get<double>();
  }
  fs::path dir_;
};

TEST_F(TextInput, InfoStatesThePolicy) {
  EXPECT_NE(run_cli("info --model " + kLlama).out.find("bos           added (the Llama tokenizer's default)"),
            std::string::npos);
  EXPECT_NE(run_cli("info --model " + kGpt2).out.find("bos           not added (the GPT-2 tokenizer's default)"),
            std::string::npos);
  EXPECT_NE(run_cli("info --model " + gpt2_with_bos()).out.find("bos           added (tokenizer_config.json add_bos_token)"),
            std::string::npos);
  EXPECT_NE(run_cli("info --model " + shared_dir() + "/golden/bert-tiny").out.find("bos           not added (BERT"),
            std::string::npos);
}

// A fast tokenizer (tokenizer.json) whose post_processor template starts with BOS adds it
// (Llama 3 states it only there); gpt2-tiny's weights with GPT-2's vocabulary in that form.
TEST_F(TextInput, TokenizerJsonTemplateSetsThePolicy) {
  const fs::path d = dir_ / "gpt2-json";
  fs::create_directories(d);
  for (const char* f : {"config.json", "model.safetensors"}) fs::copy_file(fs::path(kGpt2) / f, d / f);
  json vocab = json::parse(std::ifstream(fs::path(kGpt2) / "vocab.json"));
  json merges = json::array();
  std::ifstream in(fs::path(kGpt2) / "merges.txt");
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line.rfind("#version", 0) != 0) merges.push_back(line);
  auto write = [&](const json& post) {
    const json j = {{"added_tokens", {{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}}}},
                    {"normalizer", nullptr},
                    {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
                    {"post_processor", post},
                    {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
    std::ofstream(d / "tokenizer.json") << j.dump();
  };
  const json bos_first = {{"type", "TemplateProcessing"},
                          {"single", {{{"SpecialToken", {{"id", "<|endoftext|>"}, {"type_id", 0}}}},
                                      {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}};
  write({{"type", "Sequence"}, {"processors", {{{"type", "ByteLevel"}}, bos_first}}});
  EXPECT_NE(run_cli("info --model " + d.string()).out.find("bos           added (tokenizer.json post_processor template)"),
            std::string::npos);
  write({{"type", "ByteLevel"}});  // GPT-2's own tokenizer.json: no template
  EXPECT_NE(run_cli("info --model " + d.string()).out.find("bos           not added (the GPT-2 tokenizer's default)"),
            std::string::npos);
}

// A tokenizer_config.json whose add_bos_token is not true / false / null is an error naming the
// file and the key, before any output.
TEST_F(TextInput, BadAddBosTokenIsAnErrorNamingTheFile) {
  const std::string d = gpt2_with_bos();
  std::ofstream(fs::path(d) / "tokenizer_config.json") << R"({"add_bos_token": "yes"})";
  for (const std::string& cmd : {"info --model " + d, "forward --model " + d + " --prompt hi"}) {
    const CliRun r = run_cli(cmd);
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find("tokenizer_config.json: add_bos_token: must be true, false or null"), std::string::npos)
        << r.out;
    EXPECT_EQ(r.out.rfind("layerlab ", 0), 0u) << "output before the error:\n" << r.out;
  }
}

// The decision (stated in docs/EVAL.md): eval follows the policy, so Llama's contexts now get BOS
// (before this change eval never added it unless --add-bos); GPT-2 is unchanged.
TEST_F(TextInput, EvalFollowsThePolicyAndTheFlagsOverrideIt) {
  bool bos = false;
  const double llama = lambada_loglik(kLlama, "", &bos);
  EXPECT_TRUE(bos);
  EXPECT_EQ(llama, lambada_loglik(kLlama, "--add-bos"));
  EXPECT_NE(llama, lambada_loglik(kLlama, "--no-add-bos", &bos));
  EXPECT_FALSE(bos);
  const double gpt2 = lambada_loglik(kGpt2, "", &bos);
  EXPECT_FALSE(bos);
  EXPECT_EQ(gpt2, lambada_loglik(kGpt2, "--no-add-bos"));
  EXPECT_NE(gpt2, lambada_loglik(kGpt2, "--add-bos"));
  EXPECT_EQ(lambada_loglik(gpt2_with_bos(), "", &bos), lambada_loglik(kGpt2, "--add-bos"));
  EXPECT_TRUE(bos);
}

// forward / generate / similarity read text by the same policy: `tokens` counts the BOS.
TEST_F(TextInput, ForwardGenerateSimilarityFollowThePolicy) {
  auto tokens = [](const std::string& args) {
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.status, 0) << r.out;
    const size_t at = r.out.find("tokens ");
    return at == std::string::npos ? -1 : std::stoi(r.out.substr(at + 7));
  };
  const std::string p = " --prompt 'hello world'";
  const int gpt2 = tokens("forward --model " + kGpt2 + p);
  EXPECT_EQ(tokens("forward --model " + kGpt2 + p + " --add-bos"), gpt2 + 1);
  EXPECT_EQ(tokens("forward --model " + gpt2_with_bos() + p), gpt2 + 1);
  const int llama = tokens("forward --model " + kLlama + p);
  EXPECT_EQ(tokens("forward --model " + kLlama + p + " --no-add-bos"), llama - 1);
  const CliRun g = run_cli("generate --model " + kLlama + p + " -n 1 --temperature 0 --no-add-bos");
  EXPECT_EQ(g.status, 0) << g.out;
  const std::string text = file("t.txt", "hello world");
  const CliRun s1 = run_cli("similarity --model " + kGpt2 + " --text-file " + text + " --out " + (dir_ / "a").string());
  const CliRun s2 = run_cli("similarity --model " + kGpt2 + " --text-file " + text + " --add-bos --out " +
                            (dir_ / "b").string());
  ASSERT_EQ(s1.status, 0) << s1.out;
  ASSERT_EQ(s2.status, 0) << s2.out;
  const std::string l1 = last_line(s1.out), l2 = last_line(s2.out);
  EXPECT_EQ(std::stoi(l2.substr(l2.find("windows, ") + 9)), std::stoi(l1.substr(l1.find("windows, ") + 9)) + 1);
}

TEST_F(TextInput, BosFlagsWhereTheyChangeNothing) {
  auto expect_error = [](const std::string& args, const std::string& message) {
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(message), std::string::npos) << args << "\n" << r.out;
  };
  expect_error("forward --model " + kGpt2 + " --ids 1,2 --add-bos", "--add-bos: changes nothing: --ids is used as given");
  expect_error("generate --model " + kGpt2 + " --ids 1,2 --no-add-bos", "--no-add-bos: changes nothing: --ids");
  expect_error("forward --model " + kGpt2 + " --prompt hi --add-bos --no-add-bos", "not both");
  const std::string ids = file("ids.txt", "1,2,3\n");
  expect_error("similarity --model " + kGpt2 + " --ids-file " + ids + " --add-bos", "--ids-file is used as given");
  expect_error("eval --model " + kLlama + " --task perplexity --data " + file("t.txt", "hello") + " --no-add-bos",
               "--no-add-bos: changes nothing for perplexity");
  expect_error("forward --model " + shared_dir() + "/golden/bert-tiny --prompt hi --add-bos",
               "BERT's inputs start with [CLS]");
}

// --limit counts documents, as eval's does; --max-windows caps the windows.
TEST_F(TextInput, SimilarityLimitCountsDocuments) {
  std::string docs;
  for (int i = 0; i < 3; ++i)  // each document: 2 windows of 8 tokens
    docs += "{\"text\": \"a b c d e f g h i j k l m n o " + std::to_string(i) + "\"}\n";
  const std::string data = file("docs.jsonl", docs);
  auto windows = [&](const std::string& flags) {
    const CliRun r = run_cli("similarity --model " + kGpt2 + " --text-file " + data + " --max-tokens 8 " + flags +
                             " --out " + (dir_ / "sim").string());
    EXPECT_EQ(r.status, 0) << r.out;
    return std::stoi(last_line(r.out));
  };
  EXPECT_EQ(windows(""), 6);
  EXPECT_EQ(windows("--limit 2"), 4);
  EXPECT_EQ(windows("--max-windows 3"), 3);
  EXPECT_EQ(windows("--limit 1 --max-windows 5"), 2);
}

// mlm's --limit counted masked tokens; now documents: --limit 2 on three documents scores what
// the file of the first two does.
TEST_F(TextInput, MlmLimitCountsDocuments) {
  const std::string d1 = "{\"text\": \"the cat sat on the mat and the dog sat on the rug\"}\n";
  const std::string d2 = "{\"text\": \"a bird sang in the tree while the sun went down\"}\n";
  const std::string d3 = "{\"text\": \"rain fell on the roof all night long\"}\n";
  const std::string three = file("three.jsonl", d1 + d2 + d3), two = file("two.jsonl", d1 + d2);
  auto run = [&](const std::string& data, const std::string& flags) {
    const std::string out = (dir_ / "m.json").string();
    const CliRun r = run_cli("eval --model " + shared_dir() + "/golden/bert-tiny --task mlm --data " + data + " " +
                             flags + " --out " + out);
    EXPECT_EQ(r.status, 0) << r.out;
    return json::parse(std::ifstream(out));
  };
  const json limited = run(three, "--limit 2"), first_two = run(two, "");
  EXPECT_EQ(limited["metrics"], first_two["metrics"]);
  EXPECT_EQ(limited["items"], first_two["items"]);
  EXPECT_LT(limited["items"].get<int>(), run(three, "")["items"].get<int>());
}

}  // namespace
}  // namespace layerlab::testing
