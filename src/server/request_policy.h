#pragma once
// What the explainer refuses or changes on every request before routing: requests addressed
// to another name (DNS rebinding) or sent from another origin (403), POST bodies that are not
// declared JSON (415: a cross-site text/plain POST needs no CORS preflight), the encodings it
// answers with (never brotli; gzip level 1 only for remote peers), and how request values are
// written to the log (control characters escaped, so a path cannot forge log lines).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace layerlab::server {

// The Host (and Origin) values that name this server: the bound host and port; with a
// loopback bind also localhost, 127.0.0.1 and [::1]; with a wildcard bind (0.0.0.0, ::) any
// IP literal, since only a DNS name can be rebound.
class HostPolicy {
 public:
  HostPolicy() = default;  // refuses everything (before bind)
  HostPolicy(const std::string& bound_host, int port);
  bool host_allowed(std::string_view host_header) const;
  bool origin_allowed(std::string_view origin) const;
  // For messages: "127.0.0.1:8080", or a description for a wildcard bind.
  std::string served() const;

 private:
  std::vector<std::string> names_;  // lower case, IPv6 without brackets
  bool any_ip_literal_ = false;
  int port_ = -1;
};

struct Refusal {
  int status;
  std::string message;
};
// 403 for a foreign Host or Origin, 415 for a POST whose Content-Type is not application/json.
std::optional<Refusal> refuse_request(const HostPolicy& policy, const httplib::Request& req);

// The Content-Encoding to answer with: "gzip" when the client accepts it and is not on this
// machine, else "" (none). Never "br": httplib's brotli runs at quality 11 and took 10-50x
// the model's time on a forward's multi-megabyte JSON.
std::string choose_encoding(std::string_view accept_encoding, std::string_view peer_addr);
// Drops the client's Accept-Encoding so that httplib never compresses, remembering our choice.
void set_encoding_choice(httplib::Request& req);
// Compresses a response body with gzip level 1 if set_encoding_choice chose gzip.
void apply_encoding_choice(const httplib::Request& req, httplib::Response& res);

// s with '\\', control characters and non-ASCII bytes written as \\ and \xNN, cut after
// max_bytes (the cut marked with "...").
std::string escape_for_log(std::string_view s, size_t max_bytes = 512);

}  // namespace layerlab::server
