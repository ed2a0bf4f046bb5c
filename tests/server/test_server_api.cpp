// The explainer API on the trained 24-layer GPT-2 (../shared/models/gpt2-code-24l): every
// endpoint, the shapes and invariants of what it returns, every bad-input case (status and
// message), and that the server keeps serving afterwards and under concurrent requests.
#include <cmath>
#include <future>

#include "layerlab/error.h"
#include "server_fixture.h"

namespace layerlab::testing {
namespace {

class ServerApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerLimits lim;
    lim.max_body_bytes = 64 * 1024;
    server_ = new ServerUnderTest(shared_dir() + "/models/gpt2-code-24l", lim);
  }
  static void TearDownTestSuite() { delete server_; }
  static ServerUnderTest* server_;
  const ServerUnderTest& s() { return *server_; }

  // Expects `status` and an error message containing `fragment`.
  void expect_error(const std::string& path, const std::string& body, int status, const std::string& fragment) {
    auto [code, j] = s().post(path, body);
    EXPECT_EQ(code, status) << path << " " << body << " -> " << j.dump();
    ASSERT_TRUE(j.is_object() && j.contains("error")) << j.dump();
    EXPECT_NE(j["error"].get<std::string>().find(fragment), std::string::npos)
        << "message '" << j["error"].get<std::string>() << "' lacks '" << fragment << "'";
  }
};
ServerUnderTest* ServerApi::server_ = nullptr;

const char* kCode = "def add(a, b):\n    return a + b\n";

// Regression: a ~120 KB body nested 60,000 deep killed the server (SIGSEGV).
TEST_F(ServerApi, DeeplyNestedBodyIsA400AndTheServerStaysUp) {
  const std::string deep = "{\"ids\": " + std::string(30000, '[') + std::string(30000, ']') + "}";
  expect_error("/api/forward", deep, 400, "nested deeper than 64");
  auto [code, j] = s().post("/api/tokenize", json{{"text", kCode}});
  EXPECT_EQ(code, 200) << j.dump();
}

TEST(ServerHost, LoopbackOnlyUnlessAllowed) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.1.2.3"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("192.168.1.4"));
  ServerOptions o;
  o.model_dir = shared_dir() + "/golden/gpt2-tiny";
  o.host = "0.0.0.0";
  try {
    ExplainerServer srv(o);
    FAIL() << "0.0.0.0 accepted without allow_remote";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--allow-remote"), std::string::npos) << e.what();
  }
  o.host = "127.0.0.1";
  o.web_dir = "/nonexistent-web-dir";
  EXPECT_THROW(ExplainerServer srv(o), Error);
}

TEST_F(ServerApi, Info) {
  auto r = s().client().Get("/api/info");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  json j = json::parse(r->body);
  EXPECT_EQ(j["model"]["n_layer"], 24);
  EXPECT_EQ(j["model"]["d_model"], 256);
  EXPECT_EQ(j["model"]["n_head"], 4);
  EXPECT_EQ(j["model"]["family"], "gpt2");
  EXPECT_EQ(j["tokenizer"], true);
  EXPECT_EQ(j["inspection"], true);
  EXPECT_NE(std::find(j["variants"].begin(), j["variants"].end(), "looped_parallel"), j["variants"].end());
}

TEST_F(ServerApi, TokenizeRoundTrips) {
  auto [code, j] = s().post("/api/tokenize", json{{"text", kCode}});
  ASSERT_EQ(code, 200) << j.dump();
  std::string joined;
  for (const auto& t : j["tokens"]) joined += t["text"].get<std::string>();
  EXPECT_EQ(joined, kCode);
  EXPECT_EQ(j["count"], j["tokens"].size());
  EXPECT_GT(j["count"].get<int>(), 5);
}

TEST_F(ServerApi, ForwardFullModelShapesAndInvariants) {
  auto [code, j] = s().post("/api/forward", json{{"text", kCode}, {"top_k", 5}, {"lens_k", 3}});
  ASSERT_EQ(code, 200) << j.dump();
  const size_t T = j["tokens"].size();
  ASSERT_GT(T, 5u);
  ASSERT_EQ(j["steps"].size(), 24u);
  EXPECT_EQ(j["plan"]["applications"], 24);
  EXPECT_EQ(j["embedding"]["vectors"].size(), T);
  EXPECT_EQ(j["embedding"]["vectors"][0].size(), 256u);
  EXPECT_EQ(j["surprisal"].size(), T - 1);
  for (size_t k = 0; k < 24; ++k) {
    const json& st = j["steps"][k];
    SCOPED_TRACE("step " + std::to_string(k));
    ASSERT_EQ(st["applications"].size(), 1u);
    const json& a = st["applications"][0];
    EXPECT_EQ(a["layer"], int(k));
    ASSERT_EQ(a["attention"].size(), 4u);
    for (const auto& head : a["attention"]) {
      ASSERT_EQ(head.size(), T);
      for (size_t q = 0; q < T; ++q) {
        ASSERT_EQ(head[q].size(), q + 1);  // causal: keys 0..q
        double sum = 0;
        for (const auto& p : head[q]) {
          EXPECT_GE(p.get<double>(), 0.0);
          sum += p.get<double>();
        }
        // Softmax rows sum to 1; each entry is rounded to 4 decimals (error <= 5e-5 each).
        EXPECT_NEAR(sum, 1.0, 5e-5 * (q + 1) + 1e-6);
      }
    }
    EXPECT_EQ(a["q_norm"].size(), T);
    EXPECT_EQ(a["q_norm"][0].size(), 4u);
    EXPECT_EQ(a["mlp"]["values"].size(), 16u);
    EXPECT_EQ(a["mlp"]["values"][0].size(), T);
    EXPECT_EQ(st["lens"].size(), T);
    EXPECT_EQ(st["lens"][0].size(), 3u);
    EXPECT_EQ(st["resid_norm"].size(), T);
  }
  // The logit lens at the last step is the model's own prediction.
  const json& last_lens = j["steps"][23]["lens"][T - 1];
  EXPECT_EQ(last_lens[0]["id"], j["final"]["top"][0]["id"]);
  EXPECT_NEAR(last_lens[0]["prob"].get<double>(), j["final"]["top"][0]["prob"].get<double>(), 1e-4);
  double prev = 1.0, total = 0;
  for (const auto& t : j["final"]["top"]) {
    EXPECT_LE(t["prob"].get<double>(), prev);
    prev = t["prob"].get<double>();
    total += prev;
  }
  EXPECT_LE(total, 1.0 + 1e-6);
  // A trained code model should find this continuation easy: mean surprisal well under the
  // 10.8 nats of a uniform guess over 50257 tokens.
  double mean = 0;
  for (const auto& v : j["surprisal"]) mean += v.get<double>();
  EXPECT_LT(mean / double(T - 1), 4.0);
}

TEST_F(ServerApi, ForwardUnderPlans) {
  {
    auto [code, j] = s().post("/api/forward", json{{"text", kCode}, {"plan", {{"variant", "skip"}, {"n", 4}}}});
    ASSERT_EQ(code, 200) << j.dump();
    ASSERT_EQ(j["steps"].size(), 8u);  // first 4 and last 4 layers
    EXPECT_EQ(j["steps"][4]["applications"][0]["layer"], 20);
  }
  {
    auto [code, j] = s().post("/api/forward", json{{"ids", {1, 2, 3}}, {"plan", "0-3,[4-7]x2,20-23"}, {"lens_k", 0}});
    ASSERT_EQ(code, 200) << j.dump();
    ASSERT_EQ(j["steps"].size(), 9u);
    const json& group = j["steps"][4];
    EXPECT_EQ(group["label"], "[4-7]x2");
    ASSERT_EQ(group["applications"].size(), 8u);  // 4 members x 2 iterations
    EXPECT_EQ(group["applications"][7]["layer"], 7);
    EXPECT_EQ(group["applications"][7]["iteration"], 1);
    EXPECT_FALSE(group.contains("lens"));
  }
  {
    auto [code, j] = s().post("/api/forward", json{{"ids", {5, 6}}, {"plan", {{"steps", {3, 2, 1}}}}, {"attention", false}});
    ASSERT_EQ(code, 200) << j.dump();
    ASSERT_EQ(j["steps"].size(), 3u);
    EXPECT_FALSE(j["steps"][0]["applications"][0].contains("attention"));
  }
}

TEST_F(ServerApi, PredictFollowsTemperature) {
  auto get = [&](double t) {
    auto [code, j] = s().post("/api/predict", json{{"text", kCode}, {"temperature", t}, {"top_k", 5}});
    EXPECT_EQ(code, 200) << j.dump();
    return j;
  };
  const json t1 = get(1.0), t05 = get(0.5), t0 = get(0.0);
  EXPECT_EQ(t1["top"][0]["id"], t05["top"][0]["id"]);
  EXPECT_GT(t05["top"][0]["prob"].get<double>(), t1["top"][0]["prob"].get<double>());
  EXPECT_LT(t05["entropy"].get<double>(), t1["entropy"].get<double>());
  EXPECT_DOUBLE_EQ(t0["top"][0]["prob"].get<double>(), 1.0);
  // p_i / p_j = exp((l_i - l_j) / T): checks the probabilities against the returned logits
  // (logits are rounded to 1e-4, hence the tolerance).
  for (const json* j : {&t1, &t05}) {
    const double T = (*j)["temperature"];
    const auto& a = (*j)["top"][0];
    const auto& b = (*j)["top"][1];
    const double ratio = std::log(a["prob"].get<double>() / b["prob"].get<double>());
    EXPECT_NEAR(ratio, (a["logit"].get<double>() - b["logit"].get<double>()) / T, 2e-3);
  }
}

TEST_F(ServerApi, SampleIsSeededAndGreedyAtZero) {
  auto sample = [&](double t, int seed) {
    auto [code, j] = s().post("/api/predict", json{{"text", kCode}, {"temperature", t}, {"sample", true}, {"seed", seed}});
    EXPECT_EQ(code, 200) << j.dump();
    return j;
  };
  EXPECT_EQ(sample(1.5, 7)["sampled"]["id"], sample(1.5, 7)["sampled"]["id"]);
  const json g = sample(0.0, 3);
  EXPECT_EQ(g["sampled"]["id"], g["top"][0]["id"]);
}

TEST_F(ServerApi, Compare) {
  {
    auto [code, j] = s().post("/api/compare", json{{"text", kCode}, {"plan", "full"}});
    ASSERT_EQ(code, 200) << j.dump();
    EXPECT_NEAR(j["mean_kl"].get<double>(), 0.0, 1e-6);
    EXPECT_DOUBLE_EQ(j["top1_agreement"].get<double>(), 1.0);
    EXPECT_NEAR(j["mean_final_cosine"].get<double>(), 1.0, 1e-4);
    EXPECT_EQ(j["shared_steps"], 24);
  }
  {
    auto [code, j] = s().post("/api/compare", json{{"text", kCode}, {"plan", {{"variant", "reverse"}, {"n", 4}}}});
    ASSERT_EQ(code, 200) << j.dump();
    EXPECT_GT(j["mean_kl"].get<double>(), 0.01);
    EXPECT_EQ(j["shared_steps"], 4);
    EXPECT_EQ(j["kl"].size(), j["tokens"].size());
  }
}

// Parses a server-sent-event stream into (event, data) pairs.
std::vector<std::pair<std::string, json>> parse_sse(const std::string& body) {
  std::vector<std::pair<std::string, json>> out;
  size_t pos = 0;
  while (true) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    const std::string block = body.substr(pos, end - pos);
    pos = end + 2;
    const size_t nl = block.find('\n');
    out.emplace_back(block.substr(7, nl - 7), json::parse(block.substr(nl + 7)));
  }
  return out;
}

TEST_F(ServerApi, GenerateStreamsGreedyTokens) {
  const int n = 8;
  auto r = s().client().Post("/api/generate", json{{"text", kCode}, {"max_tokens", n}, {"temperature", 0},
                                                    {"stop_at_eos", false}}.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  auto events = parse_sse(r->body);
  ASSERT_EQ(events.size(), size_t(n + 2));
  EXPECT_EQ(events.front().first, "prompt");
  EXPECT_EQ(events.back().first, "done");
  std::string streamed;
  std::vector<int> ids;
  for (int i = 1; i <= n; ++i) {
    EXPECT_EQ(events[i].first, "token");
    streamed += events[i].second["text"].get<std::string>();
    ids.push_back(events[i].second["id"]);
  }
  EXPECT_EQ(streamed, events.back().second["text"].get<std::string>());
  // Greedy decoding with the KV cache must equal argmax of full recomputation, token by token.
  std::vector<int> prompt;
  for (const auto& t : events.front().second["tokens"]) prompt.push_back(t["id"]);
  for (int i = 0; i < n; ++i) {
    auto [code, j] = s().post("/api/predict", json{{"ids", prompt}, {"temperature", 0}, {"top_k", 1}});
    ASSERT_EQ(code, 200);
    EXPECT_EQ(j["top"][0]["id"].get<int>(), ids[i]) << "token " << i;
    prompt.push_back(ids[i]);
  }
}

TEST_F(ServerApi, GenerateUnderPlanWithSampling) {
  auto r = s().client().Post("/api/generate", json{{"text", "import "}, {"max_tokens", 5}, {"temperature", 0.8},
                                                    {"top_k", 20}, {"top_p", 0.9}, {"seed", 4},
                                                    {"plan", {{"variant", "parallel"}, {"n", 8}}}, {"stop_at_eos", false}}
                                                  .dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto events = parse_sse(r->body);
  ASSERT_EQ(events.back().first, "done");
  EXPECT_EQ(events.back().second["tokens"], 5);
}

TEST_F(ServerApi, Similarity) {
  auto [code, j] = s().post("/api/similarity", json{{"texts", {kCode, "import os\nprint(os.getcwd())\n"}}});
  ASSERT_EQ(code, 200) << j.dump();
  ASSERT_EQ(j["labels"].size(), 25u);
  EXPECT_EQ(j["texts"], 2);
  for (size_t a = 0; a < 25; ++a) {
    EXPECT_NEAR(j["matrix"][a][a].get<double>(), 1.0, 1e-5);
    for (size_t b = 0; b < 25; ++b) EXPECT_DOUBLE_EQ(j["matrix"][a][b].get<double>(), j["matrix"][b][a].get<double>());
  }
}

TEST_F(ServerApi, PlanPreview) {
  auto [code, j] = s().post("/api/plan", json{{"plan", {{"variant", "middle_repeat"}, {"n", 10}}}});
  ASSERT_EQ(code, 200) << j.dump();
  EXPECT_GT(j["steps"].get<int>(), 0);
  auto [code2, j2] = s().post("/api/plan", json{{"plan", "0-3,[4-9]x3"}});
  ASSERT_EQ(code2, 200);
  EXPECT_EQ(j2["applications"], 4 + 6 * 3);
}

TEST_F(ServerApi, BadInputsGetClearErrorsAndTheServerStaysUp) {
  const std::string big_text(6000, 'x');  // ~750 tokens (over the 512 limit), within the body limit
  std::string huge_ids = "[";
  for (int i = 0; i < 1000; ++i) huge_ids += (i ? "," : "") + std::to_string(i);
  huge_ids += "]";
  for (const char* ep : {"/api/forward", "/api/predict", "/api/compare", "/api/generate", "/api/tokenize"}) {
    SCOPED_TRACE(ep);
    expect_error(ep, "{\"text\": \"abc\"", 400, "not valid JSON");
    expect_error(ep, "[1, 2]", 400, "must be a JSON object");
    expect_error(ep, "", 400, "empty");
    expect_error(ep, R"({"text": "a", "ids": [1]})", 400, "exactly one");
    expect_error(ep, R"({"txt": "a"})", 400, "unknown field 'txt'");
    expect_error(ep, R"({"ids": [1, 99999999]})", 400, "outside the vocabulary");
    expect_error(ep, R"({"ids": ["a"]})", 400, "not an integer");
    expect_error(ep, R"({"ids": []})", 400, "empty");
    expect_error(ep, "{\"ids\": " + huge_ids + "}", 400, "the limit is 512");
    expect_error(ep, json{{"text", big_text}}.dump(), 400, "limit");
  }
  for (const char* ep : {"/api/forward", "/api/predict", "/api/compare", "/api/generate"}) {
    SCOPED_TRACE(ep);
    expect_error(ep, R"({"text": "a", "plan": {"variant": "nonsense", "n": 2}})", 400, "unknown variant");
    expect_error(ep, R"({"text": "a", "plan": {"variant": "skip"}})", 400, "needs \"n\"");
    expect_error(ep, R"({"text": "a", "plan": {"variant": "skip", "n": 20}})", 400, "plan");
    expect_error(ep, R"({"text": "a", "plan": "0-99"})", 400, "plan");
    expect_error(ep, R"({"text": "a", "plan": "abc"})", 400, "plan");
    expect_error(ep, R"({"text": "a", "plan": 7})", 400, "plan");
    expect_error(ep, R"({"text": "a", "plan": {"steps": [{"parallel": []}]}})", 400, "plan");
    expect_error(ep, R"({"text": "a", "plan": "0x500"})", 400, "the limit is 192");
  }
  for (const char* ep : {"/api/forward", "/api/predict", "/api/generate"}) {
    SCOPED_TRACE(ep);
    expect_error(ep, R"({"text": "a", "temperature": -0.5})", 400, "'temperature' = -0.5 is outside");
    expect_error(ep, R"({"text": "a", "temperature": "hot"})", 400, "must be a number");
  }
  expect_error("/api/forward", R"({"text": "a", "top_k": 0})", 400, "'top_k'");
  expect_error("/api/forward", R"({"text": "a", "top_k": 100000})", 400, "'top_k'");
  expect_error("/api/forward", R"({"text": "a", "attention": "yes"})", 400, "true or false");
  expect_error("/api/predict", R"({"text": "a", "top_p": 0})", 400, "'top_p'");
  expect_error("/api/generate", R"({"text": "a", "max_tokens": 100000})", 400, "'max_tokens'");
  expect_error("/api/generate", R"({"text": "a", "max_tokens": 0})", 400, "'max_tokens'");
  expect_error("/api/similarity", R"({"plan": "full"})", 400, "'texts'");
  expect_error("/api/similarity", R"({"texts": []})", 400, "'texts'");
  expect_error("/api/similarity", json{{"texts", std::vector<std::string>(40, "a")}}.dump(), 400, "the limit is 16");
  expect_error("/api/plan", R"({"plan": "[3-1"})", 400, "plan");
  // A body over the limit (64 KiB here) is refused before parsing.
  expect_error("/api/forward", json{{"text", std::string(100 * 1024, 'a')}}.dump(), 413, "larger than");
  // Unknown paths are JSON 404s.
  auto r = s().client().Get("/api/nothing");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->body.find("no such endpoint"), std::string::npos);
  // Still serving, and still right.
  auto [code, j] = s().post("/api/predict", json{{"text", kCode}, {"temperature", 0}});
  EXPECT_EQ(code, 200) << j.dump();
}

TEST_F(ServerApi, ConcurrentRequestsAreSerialisedAndConsistent) {
  auto one = [&](int i) {
    auto [code, j] = s().post("/api/forward", json{{"text", kCode}, {"plan", i % 2 ? "full" : "0-11,[12-17]x2,18-23"},
                                                   {"lens_k", 1}});
    EXPECT_EQ(code, 200);
    return j["final"].dump();
  };
  const std::string a = one(1), b = one(0);
  std::vector<std::future<std::string>> fs;
  for (int i = 0; i < 8; ++i) fs.push_back(std::async(std::launch::async, one, i));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(fs[i].get(), i % 2 ? a : b) << "request " << i;
}

TEST_F(ServerApi, RootServesAPageOrBuildHint) {
  auto r = s().client().Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("explainer"), std::string::npos);
}

}  // namespace
}  // namespace layerlab::testing
