// The two routes that do more than parse and call: /api/generate (server-sent events, one per
// sampled token) and /api/similarity (many prompts in one request).
#include "stream_routes.h"

#include <algorithm>
#include <chrono>
#include <climits>

#include "layerlab/generate.h"
#include "layerlab/similarity.h"
#include "request_fields.h"
#include "respond.h"
#include "utf8.h"

namespace layerlab::server {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string sse(const char* event, const json& data) { return std::string("event: ") + event + "\ndata: " + dump(data) + "\n\n"; }

// Streams one generation as server-sent events: "prompt", one "token" per sampled token, then
// "done" (or "error"). The text of each token event is the newly completed UTF-8 text, so
// characters split across tokens arrive whole. The generation is one job on the model thread;
// the connection's thread waits meanwhile, so the sink has one writer at a time. Returns false
// when the client went away (which also stops the generation at the next token).
bool stream_generation(ModelSession& s, httplib::DataSink& sink, const std::vector<int32_t>& ids,
                       const Plan& plan, const SamplingParams& sp, int n, int32_t stop_id) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<int32_t> out;
  std::string emitted;
  bool client_gone = false;
  auto send = [&](const std::string& ev) { return !client_gone && (client_gone = !sink.write(ev.data(), ev.size())) == false; };
  try {
    s.exec([&] {
      if (!send(sse("prompt", {{"tokens", s.tokens_json(ids)}}))) return;
      generate(s.runner(), plan, ids, n, sp, stop_id, [&](int32_t tok) {
        out.push_back(tok);
        const std::string text = s.decode(out);
        const size_t upto = std::max(complete_utf8_prefix(text), emitted.size());
        const std::string delta = text.substr(emitted.size(), upto - emitted.size());
        emitted = text.substr(0, upto);
        return send(sse("token", {{"index", out.size() - 1}, {"id", tok}, {"token", s.token_text(tok)}, {"text", delta}}));
      });
    });
    if (client_gone) return false;
    const double ms = ms_since(t0);
    send(sse("done", {{"tokens", out.size()},
                      {"ids", out},
                      {"text", s.decode(out)},
                      {"elapsed_ms", ms},
                      {"tokens_per_s", ms > 0 ? out.size() * 1000.0 / ms : 0.0},
                      {"stopped_at_eos", !out.empty() && out.back() == stop_id}}));
  } catch (const std::exception& e) {
    send(sse("error", {{"error", e.what()}}));
  }
  sink.done();
  return true;
}

}  // namespace

void handle_generate(ModelSession& s, const httplib::Request& req, httplib::Response& res) {
  guarded(res, [&] {
    json body = parse_body(req.body);
    check_fields(body, {"text", "ids", "add_special", "plan", "max_tokens", "temperature", "top_k", "top_p",
                                "seed", "stop_at_eos"});
    if (!s.config().causal) bad_request("generate: model family '" + s.config().family + "' is not a decoder");
    SamplingParams sp;
    sp.temperature = number_field(body, "temperature", 0.8, 0.0, 100.0);
    sp.top_k = int_field(body, "top_k", 40, 0, s.config().vocab);
    sp.top_p = number_field(body, "top_p", 0.95, 1e-6, 1.0);
    sp.seed = static_cast<uint64_t>(int_field(body, "seed", 0, 0, INT32_MAX));
    const int n = int_field(body, "max_tokens", 32, 1, s.limits().max_generate_tokens);
    const bool stop_eos = bool_field(body, "stop_at_eos", true);
    const Plan plan = s.plan(body);
    const std::vector<int32_t> ids = s.prompt(body, s.limits().max_prompt_tokens);
    const ModelConfig& cfg = s.config();
    if (cfg.positions == Positions::Learned && int(ids.size()) + n > cfg.max_positions)
      bad_request("prompt (" + std::to_string(ids.size()) + " tokens) + max_tokens (" + std::to_string(n) +
                  ") exceeds the model's " + std::to_string(cfg.max_positions) + " positions");
    const int32_t stop_id = stop_eos ? cfg.eos_id : -1;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider("text/event-stream", [&s, ids, plan, sp, n, stop_id](size_t, httplib::DataSink& sink) {
      return stream_generation(s, sink, ids, plan, sp, n, stop_id);
    });
  });
}

void handle_similarity(ModelSession& s, const httplib::Request& req, httplib::Response& res) {
  const ServerLimits& lim = s.limits();
  guarded(res, [&] {
    json body = parse_body(req.body);
    check_fields(body, {"texts", "plan", "add_special"});
    if (!body.contains("texts") || !body["texts"].is_array() || body["texts"].empty())
      bad_request("field 'texts' must be a non-empty array of strings (or of token-id arrays)");
    const json& texts = body["texts"];
    if (texts.size() > size_t(lim.max_similarity_texts))
      bad_request("field 'texts' has " + std::to_string(texts.size()) + " entries; the limit is " +
                  std::to_string(lim.max_similarity_texts));
    const Plan plan = s.plan(body);
    std::vector<std::vector<int32_t>> seqs;
    int truncated = 0;
    const bool special = bool_field(body, "add_special", s.default_add_special());
    for (size_t i = 0; i < texts.size(); ++i) {
      json one = {{"add_special", special}};
      if (texts[i].is_string())
        one["text"] = texts[i];
      else
        one["ids"] = texts[i];
      // Long texts are cut to the limit (reported) rather than refused: a pasted file should work.
      std::vector<int32_t> ids;
      if (texts[i].is_string()) {
        if (texts[i].get<std::string>().size() > size_t(lim.max_similarity_tokens) * 64)
          bad_request("texts[" + std::to_string(i) + "] is too long");
        ids = s.encode(texts[i].get<std::string>(), special);
        if (ids.empty()) bad_request("texts[" + std::to_string(i) + "] has no tokens");
      } else {
        ids = s.prompt(one, INT32_MAX);
      }
      const int cap = std::min(lim.max_similarity_tokens, s.config().max_positions);
      if (int(ids.size()) > cap) ids.resize(cap), ++truncated;
      validate_ids(ids, s.config(), 0, int(ids.size()));
      seqs.push_back(std::move(ids));
    }
    const SimilarityResult r = s.exec([&] { return layer_similarity(s.runner(), plan, seqs); });
    json out = json::parse(similarity_to_json(r));
    out["truncated_texts"] = truncated;
    out["plan"] = plan_to_text(plan);
    send_json(res, out);
  });
}

}  // namespace layerlab::server
