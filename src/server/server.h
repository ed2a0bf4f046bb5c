#pragma once
// The explainer: an HTTP server with a JSON API that shows what happens inside a model under
// any layer plan (attention, Q/K/V, MLP, residual stream, logit lens, next-token distribution,
// streamed generation, layer similarity), plus the web page built from web/ (docs/EXPLAINER.md).
#include <cstddef>
#include <memory>
#include <string>

namespace layerlab {

// Bounds on what one request may ask for, so no request can exhaust memory or hold the model
// for long. Requests beyond them get a 400 (413 for an oversized body) naming the limit.
struct ServerLimits {
  size_t max_body_bytes = 256 * 1024;
  int max_prompt_tokens = 512;         // forward / predict / compare (also capped by the context)
  int max_generate_tokens = 256;       // new tokens per generate request
  int max_top_k = 200;                 // tokens listed per distribution
  int max_plan_applications = 0;       // layer applications per plan; 0 = 8 x n_layer
  int max_similarity_texts = 16;
  int max_similarity_tokens = 256;     // per text
  int write_timeout_s = 5;             // a stalled streaming client releases the model after this
};

struct ServerOptions {
  std::string model_dir;
  std::string host = "127.0.0.1";
  int port = 8080;                 // 0 = any free port (tests)
  bool allow_remote = false;       // needed for any host other than loopback
  std::string web_dir;             // the built page (web/dist); empty = API only
  std::string device = "cpu";  // cpu, cuda or cuda:N
  std::string dtype = "f32";   // f32 on cpu; f32, tf32, bf16 or f16 on cuda
  bool log_requests = true;        // one line per request on stderr
  ServerLimits limits;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);

class ExplainerServer {
 public:
  // Loads the model and tokenizer; Error if the model cannot be loaded, the host is not
  // loopback without allow_remote, or web_dir is given but holds no index.html.
  explicit ExplainerServer(const ServerOptions& options);
  ~ExplainerServer();
  ExplainerServer(const ExplainerServer&) = delete;
  ExplainerServer& operator=(const ExplainerServer&) = delete;

  // Binds the socket and returns the port (useful with port 0); Error if it cannot bind.
  int bind();
  // Serves until stop() (blocks). Calls bind() first if needed.
  void serve();
  void stop();
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace layerlab
