#pragma once
// The loaded model, its backend, runner and tokenizer, and the one thread that runs every use of
// the model: backends keep per-call state (the inspector), so requests are serialised, and a
// single calling thread means a single OpenMP team (one team per HTTP worker thread would leave
// idle teams spinning against the busy one on a small machine).
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerlab/backend.h"
#include "layerlab/backend_factory.h"
#include "layerlab/model.h"
#include "layerlab/plan.h"
#include "layerlab/runner.h"
#include "server/server.h"

namespace layerlab {
class Tokenizer;
}

namespace layerlab::server {

using nlohmann::json;

class ModelSession {
 public:
  ModelSession(const std::string& model_dir, const BackendSpec& backend, const ServerLimits& limits);
  ~ModelSession();

  const Model& model() const { return *model_; }
  const ModelConfig& config() const { return model_->config(); }
  Runner& runner() { return *runner_; }
  Backend& backend() { return *backend_; }
  // Runs fn on the model thread, in arrival order, and returns its result (or rethrows).
  template <class Fn>
  auto exec(Fn fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    post([&task] { task(); });
    return result.get();
  }
  const ServerLimits& limits() const { return limits_; }
  bool has_tokenizer() const { return tokenizer_ != nullptr; }
  const std::string& tokenizer_error() const { return tokenizer_error_; }

  // The text of one token as it reads in the decoded output (may be a partial UTF-8 sequence).
  std::string token_text(int32_t id) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  std::vector<int32_t> encode(const std::string& text, bool add_special) const;
  bool default_add_special() const { return default_add_special_; }

  // The prompt of a request: "text" (tokenised) or "ids"; 400 if neither/both, empty, longer
  // than max_tokens, or holding ids outside the vocabulary.
  std::vector<int32_t> prompt(const json& body, int max_tokens) const;
  // The plan of a request's "plan" field: absent or "full"; a text plan ("0-7,[8-15]x2,16-23");
  // {"variant": V, "n": N, "k": K, "seed": S}; or {"steps": [...]}. 400 if unknown or invalid.
  Plan plan(const json& body) const;
  json tokens_json(const std::vector<int32_t>& ids) const;  // [{id, text}]
  json info_json() const;

 private:
  std::unique_ptr<Model> model_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Runner> runner_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::string tokenizer_error_;
  bool default_add_special_ = false;  // the model's BOS policy (set once the tokenizer is loaded)
  ServerLimits limits_;

  void post(std::function<void()> job);
  void worker_loop();
  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

// Counts layer applications (a group of m layers run K times counts m x K).
int plan_applications(const Plan& plan);

}  // namespace layerlab::server
