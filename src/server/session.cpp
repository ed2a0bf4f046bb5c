#include "session.h"

#include <algorithm>

#include "http_error.h"
#include "layerlab/backend_factory.h"
#include "layerlab/bos_policy.h"
#include "layerlab/error.h"
#include "layerlab/tokenizer.h"
#include "request_fields.h"

namespace layerlab::server {

ModelSession::ModelSession(const std::string& model_dir, const BackendSpec& backend, const ServerLimits& limits)
    : limits_(limits) {
  check_backend_spec(backend);
  model_ = load_model(model_dir);
  backend_ = make_backend(*model_, backend);
  runner_ = std::make_unique<Runner>(*model_, *backend_);
  if (limits_.max_plan_applications <= 0) limits_.max_plan_applications = 8 * config().n_layer;
  // A model folder without tokenizer files still serves requests given as token ids.
  try {
    tokenizer_ = load_tokenizer(model_dir);
  } catch (const Error& e) {
    tokenizer_error_ = e.what();
  }
  // Text gets BOS as the CLI reads it (layerlab/bos_policy.h); BERT always gets [CLS] ... [SEP].
  default_add_special_ = config().family == "bert" || (tokenizer_ && bos_policy(model_dir, *tokenizer_).add);
  worker_ = std::thread([this] { worker_loop(); });
}

ModelSession::~ModelSession() {
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  worker_.join();
}

void ModelSession::post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    queue_.push_back(std::move(job));
  }
  queue_cv_.notify_one();
}

void ModelSession::worker_loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(queue_mutex_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();  // a packaged_task: exceptions travel to the waiting request
  }
}

std::string ModelSession::token_text(int32_t id) const {
  if (!tokenizer_) return "#" + std::to_string(id);
  const int32_t one[1] = {id};
  // Special tokens ([CLS], <s>) decode to nothing; show their vocabulary piece instead.
  std::string text = tokenizer_->decode(std::span<const int32_t>(one, 1));
  return text.empty() ? tokenizer_->piece(id) : text;
}

std::string ModelSession::decode(const std::vector<int32_t>& ids) const {
  if (!tokenizer_) {
    std::string s;
    for (int32_t id : ids) s += token_text(id) + " ";
    return s;
  }
  return tokenizer_->decode(ids);
}

std::vector<int32_t> ModelSession::encode(const std::string& text, bool add_special) const {
  if (!tokenizer_) bad_request("this model folder has no usable tokenizer (" + tokenizer_error_ + "); send \"ids\"");
  EncodeOptions opt;
  opt.add_bos = add_special;
  opt.add_special = add_special;
  return tokenizer_->encode(text, opt);
}

std::vector<int32_t> ModelSession::prompt(const json& body, int max_tokens) const {
  const bool has_text = body.contains("text") && !body["text"].is_null();
  const bool has_ids = body.contains("ids") && !body["ids"].is_null();
  if (has_text == has_ids) bad_request("give exactly one of \"text\" (a string) or \"ids\" (token ids)");
  max_tokens = std::min(max_tokens, config().max_positions > 0 ? config().max_positions : max_tokens);
  std::vector<int32_t> ids;
  if (has_text) {
    const std::string text = string_field(body, "text", "");
    // A cheap bound before tokenising: no tokenizer makes fewer bytes than tokens... except
    // byte fallbacks, so allow generously and check the token count below.
    if (text.size() > size_t(max_tokens) * 64)
      bad_request("field 'text' is " + std::to_string(text.size()) + " bytes; the prompt limit is " +
                  std::to_string(max_tokens) + " tokens");
    ids = encode(text, bool_field(body, "add_special", default_add_special()));
  } else {
    const json& a = body["ids"];
    if (!a.is_array()) bad_request("field 'ids' must be an array of token ids");
    if (a.size() > size_t(max_tokens))
      bad_request("prompt is " + std::to_string(a.size()) + " tokens; the limit is " + std::to_string(max_tokens));
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_number_integer()) bad_request("ids[" + std::to_string(i) + "] is not an integer");
      const auto v = a[i].get<int64_t>();
      if (v < 0 || v >= config().vocab)
        bad_request("ids[" + std::to_string(i) + "] = " + std::to_string(v) + " is outside the vocabulary [0, " +
                    std::to_string(config().vocab) + ")");
      ids.push_back(static_cast<int32_t>(v));
    }
  }
  if (ids.empty()) bad_request("the prompt is empty (no tokens)");
  if (ids.size() > size_t(max_tokens))
    bad_request("prompt is " + std::to_string(ids.size()) + " tokens; the limit is " + std::to_string(max_tokens));
  return ids;
}

int plan_applications(const Plan& plan) {
  int64_t n = 0;
  for (const auto& s : plan.steps) n += int64_t(s.layers.size()) * s.iterations;
  return static_cast<int>(std::min<int64_t>(n, INT32_MAX));
}

Plan ModelSession::plan(const json& body) const {
  const int L = config().n_layer;
  Plan p;
  try {
    if (!body.contains("plan") || body["plan"].is_null()) {
      p = full_plan(L);
    } else if (body["plan"].is_string()) {
      const std::string text = body["plan"].get<std::string>();
      if (text.size() > 4096) bad_request("field 'plan' is longer than 4096 characters");
      p = text == "full" || text.empty() ? full_plan(L) : parse_plan_text(text);
    } else if (body["plan"].is_object() && body["plan"].contains("variant")) {
      const json& v = body["plan"];
      check_fields(v, {"variant", "n", "k", "seed"});
      const std::string name = string_field(v, "variant", "full");
      const auto& names = variant_names();
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        std::string list;
        for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
        bad_request("plan: unknown variant " + quote_prefix(name) + " (known: " + list + ")");
      }
      if (name != "full" && !v.contains("n")) bad_request("plan: variant '" + name + "' needs \"n\"");
      p = make_variant(name, L, int_field(v, "n", 0, 0, L), int_field(v, "k", 3, 1, 64),
                       static_cast<uint64_t>(int_field(v, "seed", 0, 0, INT32_MAX)));
    } else if (body["plan"].is_object() || body["plan"].is_array()) {
      if (body["plan"].dump().size() > 16384) bad_request("field 'plan' is larger than 16 KiB");
      p = parse_plan_json(body["plan"]);
    } else {
      bad_request("field 'plan' must be a string, {\"variant\": ...} or {\"steps\": [...]}");
    }
    validate_plan(p, L);
  } catch (const Error& e) {
    const std::string what = e.what();
    bad_request(what.rfind("plan", 0) == 0 ? what : "plan: " + what);
  } catch (const json::exception& e) {
    bad_request(std::string("plan: ") + e.what());
  }
  if (p.steps.empty()) bad_request("plan: no steps");
  const int apps = plan_applications(p);
  if (apps > limits_.max_plan_applications)
    bad_request("plan: " + std::to_string(apps) + " layer applications; the limit is " +
                std::to_string(limits_.max_plan_applications));
  return p;
}

json ModelSession::tokens_json(const std::vector<int32_t>& ids) const {
  json a = json::array();
  for (int32_t id : ids) a.push_back({{"id", id}, {"text", token_text(id)}});
  return a;
}

json ModelSession::info_json() const {
  const ModelConfig& c = config();
  json m = {{"dir", model_->dir()},
            {"family", c.family},
            {"model_type", c.model_type},
            {"n_layer", c.n_layer},
            {"d_model", c.d_model},
            {"n_head", c.n_head},
            {"n_kv_head", c.n_kv_head},
            {"head_dim", c.head_dim},
            {"d_ff", c.d_ff},
            {"vocab", c.vocab},
            {"max_positions", c.max_positions},
            {"causal", c.causal},
            {"activation", activation_name(c.act)},
            {"positions", c.positions == Positions::Rope ? "rope" : "learned"},
            {"rope_theta", c.positions == Positions::Rope ? c.rope.theta : 0.0},
            {"norm", c.norm == NormKind::RMSNorm ? "rmsnorm" : "layernorm"},
            {"post_norm", c.post_norm},
            {"block", c.block},
            {"parameters", model_->parameter_count()},
            {"weight_dtype", c.weight_dtype}};
  json lim = {{"max_body_bytes", limits_.max_body_bytes},
              {"max_prompt_tokens", limits_.max_prompt_tokens},
              {"max_generate_tokens", limits_.max_generate_tokens},
              {"max_top_k", limits_.max_top_k},
              {"max_plan_applications", limits_.max_plan_applications},
              {"max_similarity_texts", limits_.max_similarity_texts},
              {"max_similarity_tokens", limits_.max_similarity_tokens}};
  return {{"model", m},
          {"tokenizer", has_tokenizer() ? json(true) : json(false)},
          {"tokenizer_error", tokenizer_error_},
          {"default_add_special", default_add_special()},
          {"backend", backend_->name()},
          {"inspection", backend_->supports_inspection()},
          {"variants", variant_names()},
          {"limits", lim}};
}

}  // namespace layerlab::server
