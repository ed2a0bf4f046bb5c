// layerlab serve --model DIR [--port 8080] [--host 127.0.0.1 [--allow-remote]] [--web DIR]
//                [--threads N] [--max-prompt-tokens N] [--max-generate-tokens N] [--max-body BYTES] [--quiet]
// The explainer: JSON API + web page (docs/EXPLAINER.md).
#include <omp.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "args.h"
#include "model_args.h"
#include "commands.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "server/server.h"

namespace layerlab::cli {

namespace {

std::string exe_dir() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string p(buf, size_t(n));
  return p.substr(0, p.find_last_of('/'));
}

// The built page: $LAYERLAB_WEB_DIR, else web/dist of the source tree the binary was built in
// (build*/app/layerlab -> ../../web/dist), else ./web/dist.
std::string default_web_dir() {
  if (const char* env = std::getenv("LAYERLAB_WEB_DIR")) return env;
  for (const std::string& d : {exe_dir() + "/../../web/dist", std::string("web/dist")})
    if (file_exists(d + "/index.html")) return d;
  return "";
}

}  // namespace

int cmd_serve(const Argv& argv) {
  Options a("serve", "the explainer: a web page and JSON API on one model (attention, logit lens, plans; "
                     "docs/EXPLAINER.md)");
  ServerOptions o;
  ModelArgs ma;
  int port_arg = 8080;
  int max_prompt = o.limits.max_prompt_tokens, max_generate = o.limits.max_generate_tokens;
  int64_t max_body = static_cast<int64_t>(o.limits.max_body_bytes);
  bool quiet = false;
  std::string web;
  add_model_option(a, ma);
  add_device_options(a, ma);
  add_threads_option(a, ma.threads);
  a.integer("--port", port_arg, "TCP port; 0 picks a free one", 0, 65535);
  a.text("--host", o.host, "ADDRESS", "address to listen on; other than loopback needs --allow-remote");
  a.flag("--allow-remote", o.allow_remote, "allow a --host reachable from other machines (no authentication)");
  a.text("--web", web, "DIR", "the built page (web/dist)", "$LAYERLAB_WEB_DIR, else web/dist of the source tree");
  a.integer("--max-prompt-tokens", max_prompt, "longest prompt a request may send", 1, INT32_MAX);
  a.integer("--max-generate-tokens", max_generate, "most tokens a generation request may ask for", 1, INT32_MAX);
  a.integer("--max-body", max_body, "largest request body in bytes", 1024, INT64_MAX);
  a.flag("--quiet", quiet, "no request log on stderr");
  if (!a.parse(argv)) return 0;
  o.model_dir = ma.model;
  o.device = ma.device;
  o.dtype = ma.dtype;
  o.port = port_arg;
  o.log_requests = !quiet;
  o.web_dir = a.given("--web") ? web : default_web_dir();
  o.limits.max_prompt_tokens = max_prompt;
  o.limits.max_generate_tokens = max_generate;
  o.limits.max_body_bytes = static_cast<size_t>(max_body);
  apply_threads(ma.threads);

  ExplainerServer server(o);
  const int port = server.bind();
  std::fprintf(stderr, "layerlab explainer: http://%s:%d/  (model %s; page %s)\n",
               o.host.find(':') != std::string::npos ? ("[" + o.host + "]").c_str() : o.host.c_str(), port,
               o.model_dir.c_str(), o.web_dir.empty() ? "not built: API only" : o.web_dir.c_str());
  if (o.web_dir.empty()) std::fprintf(stderr, "  (build the page with: bash web/build.sh)\n");
  server.serve();
  return 0;
}

}  // namespace layerlab::cli
