#include "request_policy.h"

#include <arpa/inet.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <httplib.h>

#include "server/server.h"
#include "request_fields.h"

namespace layerlab::server {

namespace {

// Set on the request by set_encoding_choice; a client's own copy is dropped first.
const char* kChoiceHeader = "X-Layerlab-Encoding";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_ip_literal(const std::string& name) {
  in_addr a4{};
  in6_addr a6{};
  return inet_pton(AF_INET, name.c_str(), &a4) == 1 || inet_pton(AF_INET6, name.c_str(), &a6) == 1;
}

// "name", "name:port", "[v6]" or "[v6]:port" -> lower-case name (no brackets) and port (80 if
// absent). False if malformed.
bool split_host(std::string_view h, std::string& name, int& port) {
  std::string_view n = h, p;
  bool has_port = false;
  if (!h.empty() && h.front() == '[') {
    const size_t close = h.find(']');
    if (close == std::string_view::npos) return false;
    n = h.substr(1, close - 1);
    const std::string_view rest = h.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      p = rest.substr(1), has_port = true;
    }
  } else if (const size_t colon = h.find(':'); colon != std::string_view::npos) {
    n = h.substr(0, colon), p = h.substr(colon + 1), has_port = true;
  }
  if (n.empty()) return false;
  port = 80;
  if (has_port) {
    if (p.empty() || p.size() > 5 || !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    port = std::stoi(std::string(p));
  }
  name = lower(n);
  return true;
}

bool is_loopback_peer(std::string_view addr) {
  std::string a(addr);
  if (a.rfind("::ffff:", 0) == 0) a = a.substr(7);  // IPv4-mapped
  return is_loopback_host(a);
}

bool compressible(const std::string& content_type) {
  const std::string t = lower(trim(std::string_view(content_type).substr(0, content_type.find(';'))));
  return (t.rfind("text/", 0) == 0 && t != "text/event-stream") || t == "application/json" ||
         t == "application/javascript" || t == "image/svg+xml";
}

bool gzip_level1(const std::string& in, std::string& out) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16 /* gzip wrapper */, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  out.resize(deflateBound(&z, uLong(in.size())));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = uInt(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  const int r = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return r == Z_STREAM_END;
}

}  // namespace

HostPolicy::HostPolicy(const std::string& bound_host, int port) : port_(port) {
  std::string h = lower(bound_host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  names_.push_back(h);
  if (is_loopback_host(h)) names_.insert(names_.end(), {"localhost", "127.0.0.1", "::1"});
  if (h.empty() || h == "0.0.0.0" || h == "::") {
    any_ip_literal_ = true;
    names_.push_back("localhost");
  }
}

bool HostPolicy::host_allowed(std::string_view host_header) const {
  std::string name;
  int port = 0;
  if (!split_host(host_header, name, port) || port != port_) return false;
  if (std::find(names_.begin(), names_.end(), name) != names_.end()) return true;
  return any_ip_literal_ && is_ip_literal(name);
}

bool HostPolicy::origin_allowed(std::string_view origin) const {
  const std::string_view scheme = "http://";
  if (origin.substr(0, scheme.size()) != scheme) return false;  // also "null"
  const std::string_view rest = origin.substr(scheme.size());
  return rest.find('/') == std::string_view::npos && host_allowed(rest);
}

std::string HostPolicy::served() const {
  const std::string port = std::to_string(port_);
  if (any_ip_literal_) return "this machine's IP addresses and localhost, port " + port;
  if (names_.empty()) return "no address yet (not bound)";
  const std::string& h = names_.front();
  return (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
}

std::optional<Refusal> refuse_request(const HostPolicy& policy, const httplib::Request& req) {
  const std::string host = req.get_header_value("Host");
  if (req.get_header_value_count("Host") != 1 || !policy.host_allowed(host))
    return Refusal{403, (host.empty() ? std::string("the request has no Host header")
                                      : "Host " + quote_prefix(host) + " is not this server") +
                            "; it answers only to " + policy.served() +
                            " (requests through other names are refused: DNS rebinding protection)"};
  if (req.has_header("Origin") && !policy.origin_allowed(req.get_header_value("Origin")))
    return Refusal{403, "Origin " + quote_prefix(req.get_header_value("Origin")) + " is not this server's page (" +
                            policy.served() + "); cross-site requests are refused"};
  if (req.method == "POST") {
    const std::string ct = req.get_header_value("Content-Type");
    if (lower(trim(std::string_view(ct).substr(0, ct.find(';')))) != "application/json")
      return Refusal{415, (ct.empty() ? std::string("the request has no Content-Type")
                                      : "Content-Type " + quote_prefix(ct) + " is not JSON") +
                              "; POST bodies must be sent as Content-Type: application/json"};
  }
  return std::nullopt;
}

std::string choose_encoding(std::string_view accept_encoding, std::string_view peer_addr) {
  if (is_loopback_peer(peer_addr)) return "";  // compressing costs more than sending locally
  size_t pos = 0;
  while (pos <= accept_encoding.size()) {
    size_t end = accept_encoding.find(',', pos);
    if (end == std::string_view::npos) end = accept_encoding.size();
    const std::string_view item = accept_encoding.substr(pos, end - pos);
    const size_t semi = item.find(';');
    const std::string name = lower(trim(item.substr(0, semi)));
    bool refused = false;  // "gzip;q=0"
    if (semi != std::string_view::npos) {
      const std::string params = lower(item.substr(semi + 1));
      const size_t q = params.find("q=");
      refused = q != std::string::npos && std::strtod(params.c_str() + q + 2, nullptr) <= 0.0;
    }
    if ((name == "gzip" || name == "x-gzip") && !refused) return "gzip";
    pos = end + 1;
  }
  return "";
}

void set_encoding_choice(httplib::Request& req) {
  const std::string enc = choose_encoding(req.get_header_value("Accept-Encoding"), req.remote_addr);
  req.headers.erase("Accept-Encoding");
  req.headers.erase(kChoiceHeader);
  if (!enc.empty()) req.headers.emplace(kChoiceHeader, enc);
}

void apply_encoding_choice(const httplib::Request& req, httplib::Response& res) {
  if (req.get_header_value(kChoiceHeader) != "gzip" || res.status != 200 || res.body.size() < 1024 ||
      res.has_header("Content-Encoding") || res.has_header("Content-Range") ||
      !compressible(res.get_header_value("Content-Type")))
    return;
  std::string z;
  if (!gzip_level1(res.body, z)) return;
  res.body.swap(z);
  res.headers.erase("Content-Length");
  res.set_header("Content-Length", std::to_string(res.body.size()));
  res.set_header("Content-Encoding", "gzip");
  res.set_header("Vary", "Accept-Encoding");
}

std::string escape_for_log(std::string_view s, size_t max_bytes) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  size_t i = 0;
  for (; i < s.size() && out.size() < max_bytes; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  if (i < s.size()) out += "...";
  return out;
}

}  // namespace layerlab::server
