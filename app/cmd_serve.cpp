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
#include "commands.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/server.h"

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
  Args args(argv,
            {"model", "device", "port", "host", "web", "threads", "max-prompt-tokens", "max-generate-tokens",
             "max-body"},
            {"allow-remote", "quiet"});
  ServerOptions o;
  o.model_dir = args.require("model");
  o.device = args.get("device", "cpu");
  o.host = args.get("host", "127.0.0.1");
  o.port = static_cast<int>(args.get_int("port", 8080));
  o.allow_remote = args.has("allow-remote");
  o.log_requests = !args.has("quiet");
  o.web_dir = args.has("web") ? args.get("web") : default_web_dir();
  o.limits.max_prompt_tokens = static_cast<int>(args.get_int("max-prompt-tokens", o.limits.max_prompt_tokens));
  o.limits.max_generate_tokens = static_cast<int>(args.get_int("max-generate-tokens", o.limits.max_generate_tokens));
  o.limits.max_body_bytes = static_cast<size_t>(args.get_int("max-body", long(o.limits.max_body_bytes)));
  if (o.limits.max_prompt_tokens < 1) fail("--max-prompt-tokens", "must be at least 1");
  if (o.limits.max_generate_tokens < 1) fail("--max-generate-tokens", "must be at least 1");
  if (o.limits.max_body_bytes < 1024) fail("--max-body", "must be at least 1024 bytes");
  if (args.has("threads")) omp_set_num_threads(static_cast<int>(args.get_int("threads", 1)));

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
