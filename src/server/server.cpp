// ExplainerServer: HTTP routes of the explainer API (docs/EXPLAINER.md) on cpp-httplib, plus the
// static web page, and the request policy (request_policy.h) and connection limits
// (http_server.h) in front of them. Every model use runs on the session's model thread; every
// bad input is a JSON error.
#include "server/server.h"

#include <arpa/inet.h>

#include <cstdio>
#include <httplib.h>

#include "explain.h"
#include "head_detail.h"
#include "http_error.h"
#include "http_server.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "request_fields.h"
#include "request_policy.h"
#include "respond.h"
#include "session.h"
#include "stream_routes.h"

namespace layerlab {

using server::json;
using server::send_error;
using server::send_json;
using server::guarded;

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
  return false;
}

namespace {

const char* kNoWebPage =
    "<!doctype html><meta charset=utf-8><title>layerlab explainer</title>"
    "<p>The explainer page is not built. Run <code>bash web/build.sh</code> (or <code>scripts/build.sh</code>) and "
    "restart <code>layerlab serve</code>, or pass <code>--web DIR</code>. The JSON API is live under "
    "<a href=/api/info>/api/info</a>.";

}  // namespace

struct ExplainerServer::Impl {
  explicit Impl(const ServerOptions& o) : opt(o), http(connection_limits(o.limits)) {}
  ServerOptions opt;
  std::unique_ptr<server::ModelSession> session;
  server::HardenedHttpServer http;
  server::HostPolicy policy;  // set by bind(), once the port is known
  int port = -1;

  static server::ConnectionLimits connection_limits(const ServerLimits& lim) {
    server::ConnectionLimits c;
    c.write_timeout = std::chrono::seconds(lim.write_timeout_s);
    return c;
  }
  void routes();
  void policy_and_logging();
};

void ExplainerServer::Impl::policy_and_logging() {
  // Never brotli, and no compression on loopback (request_policy.h says why).
  http.set_request_setup([](httplib::Request& req) { server::set_encoding_choice(req); });
  http.set_post_routing_handler(
      [](const httplib::Request& req, httplib::Response& res) { server::apply_encoding_choice(req, res); });
  // Host, Origin and Content-Type are checked before the body is read.
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const auto refusal = server::refuse_request(policy, req);
    if (!refusal) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, refusal->status, refusal->message);
    res.set_header("Connection", "close");  // its body, if any, was not read
    server::HardenedHttpServer::close_after_response();
    return httplib::Server::HandlerResponse::Handled;
  });
  if (opt.log_requests)
    http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      // The path is percent-decoded by httplib: escaped, a %0a in it cannot start a forged line.
      std::fprintf(stderr, "%s %s %d %zu bytes\n", server::escape_for_log(req.method, 16).c_str(),
                   server::escape_for_log(req.path).c_str(), res.status, res.body.size());
    });
}

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

  http.Post("/api/head", [&](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      json body = server::parse_body(req.body);
      server::check_fields(body, {"text", "ids", "add_special", "plan", "step", "application", "head"});
      server::HeadRequest r;
      r.step = server::int_field(body, "step", 0, 0, INT32_MAX);
      r.application = server::int_field(body, "application", 0, 0, INT32_MAX);
      r.head = server::int_field(body, "head", 0, 0, INT32_MAX);
      const Plan plan = s.plan(body);
      const auto ids = s.prompt(body, lim.max_prompt_tokens);
      send_json(res, s.exec([&] { return server::explain_head(s, plan, ids, r); }));
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

  http.Post("/api/generate",
            [&](const httplib::Request& req, httplib::Response& res) { server::handle_generate(s, req, res); });
  http.Post("/api/similarity",
            [&](const httplib::Request& req, httplib::Response& res) { server::handle_similarity(s, req, res); });

  // The web page, or a note on how to build it.
  bool mounted = false;
  if (!opt.web_dir.empty()) mounted = http.set_mount_point("/", opt.web_dir);
  if (!mounted)
    http.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(kNoWebPage, "text/html"); });

  http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string msg = "HTTP " + std::to_string(res.status);
    if (res.status == 404) msg = "no such endpoint or file: " + req.method + " " + server::quote_prefix(req.path, 100);
    if (res.status == 413) msg = "request body is larger than the server's limit";
    if (res.status == 400) msg = "malformed HTTP request";
    send_error(res, res.status, msg);
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, 500, "internal error");
  });
  policy_and_logging();
  http.set_payload_max_length(lim.max_body_bytes);
}

ExplainerServer::ExplainerServer(const ServerOptions& options) : impl_(std::make_unique<Impl>(options)) {
  if (!options.allow_remote && !is_loopback_host(options.host))
    fail_option("host", "'" + options.host +
                       "' is not a loopback address; serving a model to the network needs --allow-remote "
                       "(the API has no authentication)");
  if (options.port < 0 || options.port > 65535) fail_option("port", std::to_string(options.port) + " is not a port");
  if (!options.web_dir.empty() && !file_exists(options.web_dir + "/index.html"))
    fail_option("web", options.web_dir + " has no index.html (build the page with: bash web/build.sh)");
  impl_->session = std::make_unique<server::ModelSession>(options.model_dir, BackendSpec{options.device, options.dtype}, options.limits);
  impl_->routes();
}

ExplainerServer::~ExplainerServer() { stop(); }

int ExplainerServer::bind() {
  if (impl_->port >= 0) return impl_->port;
  if (impl_->opt.port == 0) {
    impl_->port = impl_->http.bind_to_any_port(impl_->opt.host);
    if (impl_->port < 0) fail_option("host", "cannot bind " + impl_->opt.host);
  } else {
    if (!impl_->http.bind_to_port(impl_->opt.host, impl_->opt.port))
      fail_option("port", "cannot bind " + impl_->opt.host + ":" + std::to_string(impl_->opt.port) +
                         " (in use, or not an address of this machine)");
    impl_->port = impl_->opt.port;
  }
  impl_->http.raise_backlog();
  impl_->policy = server::HostPolicy(impl_->opt.host, impl_->port);
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
