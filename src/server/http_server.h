#pragma once
// HardenedHttpServer: cpp-httplib's Server (Debian's 0.11.4, a compiled library, so its
// compile-time macros cannot be changed from here) with what a slow or hostile client needs:
// a deadline for reading each whole request (httplib only times single reads, so a client
// trickling a byte a second held a worker forever), many workers, a large listen backlog
// (httplib listens with 5), bounded writes, and a hook on every request before routing.
#include <httplib.h>

#include <chrono>
#include <functional>

namespace layerlab::server {

struct ConnectionLimits {
  std::chrono::milliseconds request_deadline{10000};    // request line + headers + body
  std::chrono::milliseconds read_timeout{2000};         // silence between two reads
  std::chrono::milliseconds write_timeout{5000};        // no progress sending
  std::chrono::milliseconds keep_alive_timeout{5000};   // idle wait for the next request
  size_t keep_alive_max = 100;                          // requests per connection
  size_t worker_threads = 64;                           // connections served at once
  int listen_backlog = 1024;
};

class HardenedHttpServer : public httplib::Server {
 public:
  explicit HardenedHttpServer(const ConnectionLimits& limits = {});

  // Runs on every request once its headers are read (before routing, before the body), with
  // the Request mutable (e.g. to rewrite Accept-Encoding).
  void set_request_setup(std::function<void(httplib::Request&)> fn) { setup_ = std::move(fn); }
  // Raises the backlog of the bound socket (Linux accepts a second listen()). Call after bind.
  bool raise_backlog();
  // From a handler: close the connection after this response (e.g. a refused request whose
  // body was never read, so the next bytes on the connection are not a request).
  static void close_after_response();

  const ConnectionLimits& limits() const { return limits_; }

 private:
  bool process_and_close_socket(socket_t sock) override;

  ConnectionLimits limits_;
  std::function<void(httplib::Request&)> setup_;
};

}  // namespace layerlab::server
