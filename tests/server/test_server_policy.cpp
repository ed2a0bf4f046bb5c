// The pieces of issue 17 without a model: the Host/Origin policy, the encoding choice and
// gzip, log escaping, value quoting, and HardenedHttpServer's whole-request deadline.
#include <gtest/gtest.h>
#include <httplib.h>
#include <zlib.h>

#include <chrono>
#include <thread>

#include "raw_socket.h"
#include "server/http_server.h"
#include "server/request_fields.h"
#include "server/request_policy.h"

namespace layerlab::server {
namespace {

using testing::RawConnection;
using Clock = std::chrono::steady_clock;

TEST(HostPolicy, LoopbackBindAcceptsItsAliasesOnItsPortOnly) {
  const HostPolicy p("127.0.0.1", 8080);
  for (const char* h : {"127.0.0.1:8080", "localhost:8080", "LocalHost:8080", "[::1]:8080"}) EXPECT_TRUE(p.host_allowed(h)) << h;
  for (const char* h : {"", "127.0.0.1", "127.0.0.1:8081", "localhost", "evil.example:8080", "127.0.0.1:8080x",
                        "127.0.0.1:", ":8080", "[::1", "[::1]8080", "::1:8080", "127.0.0.1:08080x", "localhost.:8080",
                        "127.0.0.2:8080"})
    EXPECT_FALSE(p.host_allowed(h)) << h;
  EXPECT_TRUE(p.origin_allowed("http://127.0.0.1:8080"));
  EXPECT_TRUE(p.origin_allowed("http://localhost:8080"));
  for (const char* o : {"null", "", "https://127.0.0.1:8080", "http://127.0.0.1:8080/", "http://evil.example:8080",
                        "http://127.0.0.1", "file://"})
    EXPECT_FALSE(p.origin_allowed(o)) << o;
  EXPECT_EQ(p.served(), "127.0.0.1:8080");
}

TEST(HostPolicy, PortEightyMayBeOmitted) {
  const HostPolicy p("localhost", 80);
  EXPECT_TRUE(p.host_allowed("localhost"));
  EXPECT_TRUE(p.host_allowed("127.0.0.1:80"));
  EXPECT_TRUE(p.origin_allowed("http://localhost"));
}

TEST(HostPolicy, WildcardBindAcceptsIpLiteralsButNoNames) {
  const HostPolicy p("0.0.0.0", 9000);
  for (const char* h : {"192.168.1.4:9000", "[fd00::2]:9000", "localhost:9000", "10.0.0.1:9000"}) EXPECT_TRUE(p.host_allowed(h)) << h;
  for (const char* h : {"myhost.lan:9000", "evil.example:9000", "192.168.1.4:9001", "192.168.1.4"})
    EXPECT_FALSE(p.host_allowed(h)) << h;
  const HostPolicy one("192.168.1.4", 9000);
  EXPECT_TRUE(one.host_allowed("192.168.1.4:9000"));
  EXPECT_FALSE(one.host_allowed("localhost:9000"));
  EXPECT_FALSE(one.host_allowed("10.0.0.1:9000"));
  EXPECT_FALSE(HostPolicy().host_allowed("127.0.0.1:8080"));  // before bind
}

TEST(Encoding, NeverBrotliNoneOnLoopbackGzipForRemote) {
  EXPECT_EQ(choose_encoding("gzip, deflate, br, zstd", "127.0.0.1"), "");
  EXPECT_EQ(choose_encoding("gzip, deflate, br, zstd", "::1"), "");
  EXPECT_EQ(choose_encoding("gzip, deflate, br, zstd", "::ffff:127.0.0.1"), "");
  EXPECT_EQ(choose_encoding("gzip, deflate, br, zstd", "192.168.1.9"), "gzip");
  EXPECT_EQ(choose_encoding("br", "192.168.1.9"), "");
  EXPECT_EQ(choose_encoding("br;q=1.0, GZIP;q=0.5", "192.168.1.9"), "gzip");
  EXPECT_EQ(choose_encoding("gzip;q=0, br", "192.168.1.9"), "");
  EXPECT_EQ(choose_encoding("", "192.168.1.9"), "");
}

std::string gunzip(const std::string& z) {
  z_stream s{};
  EXPECT_EQ(inflateInit2(&s, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(z.data()));
  s.avail_in = uInt(z.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = uInt(out.size());
  EXPECT_EQ(inflate(&s, Z_FINISH), Z_STREAM_END);
  out.resize(s.total_out);
  inflateEnd(&s);
  return out;
}

TEST(Encoding, RemoteGzipRoundTripsAndHttplibNeverCompresses) {
  httplib::Request req;
  req.remote_addr = "192.168.1.9";
  req.set_header("Accept-Encoding", "gzip, deflate, br, zstd");
  req.set_header("X-Layerlab-Encoding", "bogus");  // a client's copy is dropped
  set_encoding_choice(req);
  EXPECT_FALSE(req.has_header("Accept-Encoding"));  // so httplib picks nothing itself
  EXPECT_EQ(req.get_header_value_count("X-Layerlab-Encoding"), 1u);
  httplib::Response res;
  res.status = 200;
  std::string body = "{\"a\": [";
  for (int i = 0; i < 5000; ++i) body += std::to_string(i) + ",";
  body += "0]}";
  res.set_content(body, "application/json");
  res.set_header("Content-Length", std::to_string(body.size()));
  apply_encoding_choice(req, res);
  EXPECT_EQ(res.get_header_value("Content-Encoding"), "gzip");
  EXPECT_EQ(res.get_header_value_count("Content-Length"), 1u);
  EXPECT_EQ(res.get_header_value("Content-Length"), std::to_string(res.body.size()));
  EXPECT_LT(res.body.size(), body.size() / 2);
  EXPECT_EQ(gunzip(res.body), body);

  httplib::Request local;
  local.remote_addr = "127.0.0.1";
  local.set_header("Accept-Encoding", "gzip, br");
  set_encoding_choice(local);
  httplib::Response plain;
  plain.status = 200;
  plain.set_content(body, "application/json");
  apply_encoding_choice(local, plain);
  EXPECT_FALSE(plain.has_header("Content-Encoding"));
  EXPECT_EQ(plain.body, body);
}

TEST(LogEscape, ControlAndNonAsciiBytesAreEscaped) {
  EXPECT_EQ(escape_for_log("/api/info"), "/api/info");
  EXPECT_EQ(escape_for_log("/a\nFAKE\r\x1b[2J\t\x7f\\"), "/a\\x0aFAKE\\x0d\\x1b[2J\\x09\\x7f\\\\");
  EXPECT_EQ(escape_for_log("caf\xc3\xa9"), "caf\\xc3\\xa9");
  EXPECT_EQ(escape_for_log(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(escape_for_log(std::string(1000, 'p'), 10), "pppppppppp...");
}

TEST(Quote, LongValuesAreCutAndSized) {
  EXPECT_EQ(quote_prefix("abc"), "'abc'");
  EXPECT_EQ(quote_prefix(std::string(100, 'x'), 5), "'xxxxx...' (100 bytes)");
  EXPECT_EQ(quote_prefix("\xc3\xa9\xc3\xa9", 3), "'\xc3\xa9...' (4 bytes)");  // not inside a character
  EXPECT_EQ(describe(json(std::string(50, 'y'))), "a string 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy...' (50 bytes)");
  EXPECT_EQ(describe(json::array({1, 2, 3})), "an array of 3 elements");
  EXPECT_EQ(describe(json::object()), "an object of 0 fields");
  EXPECT_EQ(describe(json(1.5)), "1.5");
}

// A bare HardenedHttpServer with a short deadline on a free port.
class Deadline : public ::testing::Test {
 protected:
  void SetUp() override {
    ConnectionLimits lim;
    lim.request_deadline = std::chrono::milliseconds(1000);
    lim.read_timeout = std::chrono::milliseconds(600);
    lim.keep_alive_timeout = std::chrono::milliseconds(1000);
    http_ = std::make_unique<HardenedHttpServer>(lim);
    http_->Get("/ping", [](const httplib::Request&, httplib::Response& res) { res.set_content("pong", "text/plain"); });
    http_->Post("/echo", [](const httplib::Request& req, httplib::Response& res) { res.set_content(req.body, "text/plain"); });
    port_ = http_->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    EXPECT_TRUE(http_->raise_backlog());
    thread_ = std::thread([this] { http_->listen_after_bind(); });
    for (int i = 0; i < 100 && !http_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  void TearDown() override {
    http_->stop();
    thread_.join();
  }
  // Sends `bytes` one every `gap_ms` until the server hangs up; returns the seconds that took
  // (or -1 if it never did within limit_s).
  double trickle_until_dropped(const std::string& bytes, int gap_ms, double limit_s) {
    RawConnection c(port_);
    const auto t0 = Clock::now();
    for (size_t i = 0; std::chrono::duration<double>(Clock::now() - t0).count() < limit_s; ++i) {
      c.send(std::string(1, bytes[i % bytes.size()]));
      c.read_for(gap_ms);
      if (c.closed()) return std::chrono::duration<double>(Clock::now() - t0).count();
    }
    return -1;
  }
  std::unique_ptr<HardenedHttpServer> http_;
  std::thread thread_;
  int port_ = -1;
};

// httplib alone times single reads only: a byte every 300 ms (under any read timeout) kept the
// connection, and its worker, forever.
TEST_F(Deadline, TricklingHeadersAreDroppedAtTheDeadline) {
  const double t = trickle_until_dropped("GET /ping HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 300, 5);
  EXPECT_GT(t, 0.9) << "dropped before the deadline";
  EXPECT_LT(t, 2.0) << (t < 0 ? "never dropped" : "dropped late");
}

TEST_F(Deadline, TricklingBodyIsDroppedAtTheDeadline) {
  RawConnection c(port_);
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n");
  const auto t0 = Clock::now();
  std::string got;
  while (!c.closed() && std::chrono::duration<double>(Clock::now() - t0).count() < 5) {
    c.send("b");
    got += c.read_for(300);
  }
  const double t = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_TRUE(c.closed());
  EXPECT_LT(t, 2.0);
  EXPECT_EQ(got.find("200 OK"), std::string::npos) << got;
}

TEST_F(Deadline, SilenceIsDroppedAfterTheReadTimeout) {
  RawConnection c(port_);
  c.send("GET /ping HTTP/1.1\r\n");
  const auto t0 = Clock::now();
  c.read_for(3000);
  EXPECT_TRUE(c.closed());
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 1.5);
}

TEST_F(Deadline, PromptClientsAndKeepAliveStillWork) {
  httplib::Client cl("127.0.0.1", port_);
  for (int i = 0; i < 5; ++i) {  // one kept-alive connection, each request with a fresh deadline
    auto r = cl.Get("/ping");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->body, "pong");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  auto big = cl.Post("/echo", std::string(3 << 20, 'z'), "text/plain");  // a large body is not slow
  ASSERT_TRUE(big);
  EXPECT_EQ(big->body.size(), size_t(3 << 20));
}

}  // namespace
}  // namespace layerlab::server
