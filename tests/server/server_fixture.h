#pragma once
// Runs an ExplainerServer on a free loopback port in a background thread for a test suite and
// gives an HTTP client for it.
#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "golden.h"
#include "server/server.h"

namespace layerlab::testing {

using nlohmann::json;

class ServerUnderTest {
 public:
  explicit ServerUnderTest(const std::string& model_dir, ServerLimits limits = {})
      : ServerUnderTest(options(model_dir, limits)) {}
  // Any options (port 0 is forced).
  explicit ServerUnderTest(ServerOptions o) {
    o.port = 0;
    server_ = std::make_unique<ExplainerServer>(o);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->serve(); });
    // Wait until it answers.
    for (int i = 0; i < 200; ++i) {
      if (auto r = client().Get("/api/info"); r && r->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "server did not come up";
  }
  ~ServerUnderTest() {
    server_->stop();
    thread_.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(120, 0);
    return c;
  }
  // POSTs a JSON body; returns {status, parsed body (or the raw text as a string)}.
  std::pair<int, json> post(const std::string& path, const std::string& body) const {
    auto r = client().Post(path.c_str(), body, "application/json");
    if (!r) return {-1, json("no response: " + httplib::to_string(r.error()))};
    json j = json::parse(r->body, nullptr, false);
    return {r->status, j.is_discarded() ? json(r->body) : j};
  }
  std::pair<int, json> post(const std::string& path, const json& body) const { return post(path, body.dump()); }
  int port() const { return port_; }
  static ServerOptions options(const std::string& model_dir, ServerLimits limits = {}) {
    ServerOptions o;
    o.model_dir = model_dir;
    o.log_requests = false;
    o.limits = limits;
    return o;
  }

 private:
  std::unique_ptr<ExplainerServer> server_;
  std::thread thread_;
  int port_ = -1;
};

}  // namespace layerlab::testing
