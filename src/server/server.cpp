// ExplainerServer: HTTP routes of the explainer API (docs/EXPLAINER.md) on cpp-httplib, plus the
// static web page. Every model use runs on the session's model thread; every bad input is a JSON 400.
#include "layerlab/server.h"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <httplib.h>

#include "explain.h"
#include "http_error.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/generate.h"
#include "layerlab/similarity.h"
#include "request_fields.h"
#include "session.h"
#include "utf8.h"

namespace layerlab {

using server::bad_request;
using server::HttpError;
using server::json;

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
  return false;
}

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_json(httplib::Response& res, const json& j, int status = 200) {
  res.status = status;
  res.set_content(dump(j), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, {{"error", message}, {"status", status}}, status);
}

// Runs a handler body, turning every failure into a JSON error response: HttpError keeps its
// status, a layerlab::Error is the client's input (400), anything else is a 500.
template <class Fn>
void guarded(httplib::Response& res, Fn fn) {
  try {
    fn();
  } catch (const HttpError& e) {
    send_error(res, e.status, e.what());
  } catch (const Error& e) {
    send_error(res, 400, e.what());
  } catch (const json::exception& e) {
    send_error(res, 400, std::string("bad request: ") + e.what());
  } catch (const std::bad_alloc&) {
    send_error(res, 503, "out of memory for this request; try a shorter prompt or plan");
  } catch (const std::exception& e) {
    send_error(res, 500, std::string("internal error: ") + e.what());
  }
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string sse(const char* event, const json& data) { return std::string("event: ") + event + "\ndata: " + dump(data) + "\n\n"; }

// Streams one generation as server-sent events: "prompt", one "token" per sampled token, then
// "done" (or "error"). The text of each token event is the newly completed UTF-8 text, so
// characters split across tokens arrive whole. The generation is one job on the model thread;
// the connection's thread waits meanwhile, so the sink has one writer at a time. Returns false
// when the client went away (which also stops the generation at the next token).
bool stream_generation(server::ModelSession& s, httplib::DataSink& sink, const std::vector<int32_t>& ids,
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
        const size_t upto = std::max(server::complete_utf8_prefix(text), emitted.size());
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

const char* kNoWebPage =
    "<!doctype html><meta charset=utf-8><title>layerlab explainer</title>"
    "<p>The explainer page is not built. Run <code>bash web/build.sh</code> (or <code>scripts/build.sh</code>) and "
    "restart <code>layerlab serve</code>, or pass <code>--web DIR</code>. The JSON API is live under "
    "<a href=/api/info>/api/info</a>.";

}  // namespace

struct ExplainerServer::Impl {
  ServerOptions opt;
  std::unique_ptr<server::ModelSession> session;
  httplib::Server http;
  int port = -1;

  void routes();
  void route_generate(const httplib::Request& req, httplib::Response& res);
  void route_similarity(const httplib::Request& req, httplib::Response& res);
};

void ExplainerServer::Impl::routes() {
  server::ModelSession& s = *session;
  const ServerLimits& lim = s.limits();

  http.Get("/api/info", [&](const httplib::Request&, httplib::Response& res) {
    guarded(res, [&] { send_json(res, s.info_json()); });
  });

  http.Post("/api/tokenize", [&](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      json body = server::parse_body(req.body);
      server::check_fields(body, {"text", "ids", "add_special"});
      const auto ids = s.prompt(body, lim.max_prompt_tokens);  // tokenizers are thread-safe
      send_json(res, {{"tokens", s.tokens_json(ids)}, {"count", ids.size()}});
    });
  });

  http.Post("/api/plan", [&](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      json body = server::parse_body(req.body);
      server::check_fields(body, {"plan"});
      const Plan p = s.plan(body);
      json steps = json::array();
      for (const auto& st : p.steps) steps.push_back({{"layers", st.layers}, {"iterations", st.iterations}});
      send_json(res, {{"text", plan_to_text(p)}, {"json", plan_to_json(p)}, {"steps", p.steps.size()},
                      {"applications", server::plan_applications(p)}});
    });
  });

  http.Post("/api/forward", [&](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      json body = server::parse_body(req.body);
      server::check_fields(body, {"text", "ids", "add_special", "plan", "temperature", "top_k", "lens_k", "attention",
                                  "mlp_neurons"});
      server::ExplainOptions o;
      o.temperature = server::number_field(body, "temperature", 1.0, 0.0, 100.0);
      o.top_k = server::int_field(body, "top_k", 10, 1, lim.max_top_k);
      o.lens_k = server::int_field(body, "lens_k", 3, 0, 10);
      o.attention = server::bool_field(body, "attention", true);
      o.mlp_neurons = server::int_field(body, "mlp_neurons", 16, 0, 64);
      const Plan plan = s.plan(body);
      const auto ids = s.prompt(body, lim.max_prompt_tokens);
      send_json(res, s.exec([&] { return server::explain_forward(s, plan, ids, o); }));
    });
  });

  http.Post("/api/predict", [&](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      json body = server::parse_body(req.body);
      server::check_fields(body, {"text", "ids", "add_special", "plan", "temperature", "top_k", "sample",
                                  "sample_top_k", "top_p", "seed"});
      server::PredictOptions o;
      o.temperature = server::number_field(body, "temperature", 1.0, 0.0, 100.0);
      o.top_k = server::int_field(body, "top_k", 10, 1, lim.max_top_k);
      o.sample = server::bool_field(body, "sample", false);
      o.sample_top_k = server::int_field(body, "sample_top_k", 0, 0, s.config().vocab);
      o.top_p = server::number_field(body, "top_p", 1.0, 1e-6, 1.0);
      o.seed = static_cast<uint64_t>(server::int_field(body, "seed", 0, 0, INT32_MAX));
      const Plan plan = s.plan(body);
      const auto ids = s.prompt(body, lim.max_prompt_tokens);
      send_json(res, s.exec([&] { return server::predict_next(s, plan, ids, o); }));
    });
  });

  http.Post("/api/compare", [&](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      json body = server::parse_body(req.body);
      server::check_fields(body, {"text", "ids", "add_special", "plan", "base"});
      const Plan plan = s.plan(body);
      json base_body = json::object();
      if (body.contains("base")) base_body["plan"] = body["base"];
      const Plan base = s.plan(base_body);
      const auto ids = s.prompt(body, lim.max_prompt_tokens);
      send_json(res, s.exec([&] { return server::compare_plans(s, base, plan, ids); }));
    });
  });

  http.Post("/api/generate", [this](const httplib::Request& req, httplib::Response& res) { route_generate(req, res); });
  http.Post("/api/similarity",
            [this](const httplib::Request& req, httplib::Response& res) { route_similarity(req, res); });

  // The web page, or a note on how to build it.
  bool mounted = false;
  if (!opt.web_dir.empty()) mounted = http.set_mount_point("/", opt.web_dir);
  if (!mounted)
    http.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(kNoWebPage, "text/html"); });

  http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string msg = "HTTP " + std::to_string(res.status);
    if (res.status == 404) msg = "no such endpoint or file: " + req.method + " " + req.path;
    if (res.status == 413) msg = "request body is larger than the server's limit";
    if (res.status == 400) msg = "malformed HTTP request";
    send_error(res, res.status, msg);
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, 500, "internal error");
  });
  if (opt.log_requests)
    http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      std::fprintf(stderr, "%s %s %d %zu bytes\n", req.method.c_str(), req.path.c_str(), res.status, res.body.size());
    });
  http.set_payload_max_length(lim.max_body_bytes);
  http.set_write_timeout(lim.write_timeout_s, 0);
  http.set_read_timeout(10, 0);
}

void ExplainerServer::Impl::route_generate(const httplib::Request& req, httplib::Response& res) {
  server::ModelSession& s = *session;
  guarded(res, [&] {
    json body = server::parse_body(req.body);
    server::check_fields(body, {"text", "ids", "add_special", "plan", "max_tokens", "temperature", "top_k", "top_p",
                                "seed", "stop_at_eos"});
    if (!s.config().causal) bad_request("generate: model family '" + s.config().family + "' is not a decoder");
    SamplingParams sp;
    sp.temperature = server::number_field(body, "temperature", 0.8, 0.0, 100.0);
    sp.top_k = server::int_field(body, "top_k", 40, 0, s.config().vocab);
    sp.top_p = server::number_field(body, "top_p", 0.95, 1e-6, 1.0);
    sp.seed = static_cast<uint64_t>(server::int_field(body, "seed", 0, 0, INT32_MAX));
    const int n = server::int_field(body, "max_tokens", 32, 1, s.limits().max_generate_tokens);
    const bool stop_eos = server::bool_field(body, "stop_at_eos", true);
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

void ExplainerServer::Impl::route_similarity(const httplib::Request& req, httplib::Response& res) {
  server::ModelSession& s = *session;
  const ServerLimits& lim = s.limits();
  guarded(res, [&] {
    json body = server::parse_body(req.body);
    server::check_fields(body, {"texts", "plan", "add_special"});
    if (!body.contains("texts") || !body["texts"].is_array() || body["texts"].empty())
      bad_request("field 'texts' must be a non-empty array of strings (or of token-id arrays)");
    const json& texts = body["texts"];
    if (texts.size() > size_t(lim.max_similarity_texts))
      bad_request("field 'texts' has " + std::to_string(texts.size()) + " entries; the limit is " +
                  std::to_string(lim.max_similarity_texts));
    const Plan plan = s.plan(body);
    std::vector<std::vector<int32_t>> seqs;
    int truncated = 0;
    const bool special = server::bool_field(body, "add_special", s.default_add_special());
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

ExplainerServer::ExplainerServer(const ServerOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->opt = options;
  if (!options.allow_remote && !is_loopback_host(options.host))
    fail("--host", "'" + options.host +
                       "' is not a loopback address; serving a model to the network needs --allow-remote "
                       "(the API has no authentication)");
  if (options.port < 0 || options.port > 65535) fail("--port", std::to_string(options.port) + " is not a port");
  if (!options.web_dir.empty() && !file_exists(options.web_dir + "/index.html"))
    fail("--web", options.web_dir + " has no index.html (build the page with: bash web/build.sh)");
  impl_->session = std::make_unique<server::ModelSession>(options.model_dir, options.device, options.limits);
  impl_->routes();
}

ExplainerServer::~ExplainerServer() { stop(); }

int ExplainerServer::bind() {
  if (impl_->port >= 0) return impl_->port;
  if (impl_->opt.port == 0) {
    impl_->port = impl_->http.bind_to_any_port(impl_->opt.host);
    if (impl_->port < 0) fail("--host", "cannot bind " + impl_->opt.host);
  } else {
    if (!impl_->http.bind_to_port(impl_->opt.host, impl_->opt.port))
      fail("--port", "cannot bind " + impl_->opt.host + ":" + std::to_string(impl_->opt.port) +
                         " (in use, or not an address of this machine)");
    impl_->port = impl_->opt.port;
  }
  return impl_->port;
}

void ExplainerServer::serve() {
  bind();
  impl_->http.listen_after_bind();
}

void ExplainerServer::stop() {
  if (impl_ && impl_->http.is_running()) impl_->http.stop();
}

int ExplainerServer::port() const { return impl_->port; }

}  // namespace layerlab
