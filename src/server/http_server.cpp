#include "http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace layerlab::server {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

thread_local bool t_close_after_response = false;

int ms_count(milliseconds d) { return int(std::clamp<int64_t>(d.count(), 0, INT32_MAX)); }

// Polls one socket for `events`; >0 ready, 0 timed out, <0 error.
int wait_for(socket_t sock, short events, int timeout_ms) {
  pollfd p{sock, events, 0};
  int r;
  do r = ::poll(&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  if (r > 0 && (p.revents & (POLLERR | POLLNVAL))) return -1;
  return r;
}

void address_of(const sockaddr_storage& a, std::string& ip, int& port) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (a.ss_family == AF_INET) {
    const auto& s = reinterpret_cast<const sockaddr_in&>(a);
    inet_ntop(AF_INET, &s.sin_addr, buf, sizeof(buf));
    port = ntohs(s.sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto& s = reinterpret_cast<const sockaddr_in6&>(a);
    inet_ntop(AF_INET6, &s.sin6_addr, buf, sizeof(buf));
    port = ntohs(s.sin6_port);
  }
  ip = buf;
}

// A socket stream whose reads stop at a deadline for the whole request (set per request) as
// well as after read_timeout of silence, and whose writes give up after write_timeout without
// progress (a blocking send to a client that stopped reading would wait forever).
class DeadlineStream final : public httplib::Stream {
 public:
  DeadlineStream(socket_t sock, milliseconds read_timeout, milliseconds write_timeout)
      : sock_(sock), read_timeout_(read_timeout), write_timeout_(write_timeout) {}

  void set_deadline(Clock::time_point t) { deadline_ = t; }
  bool buffered() const { return pos_ < len_; }
  // A read gave up (deadline or silence): httplib may still answer 400, but the connection's
  // remaining bytes are not a request, so it must end.
  bool timed_out() const { return timed_out_; }

  bool is_readable() const override { return buffered() || wait_for(sock_, POLLIN, read_budget_ms()) > 0; }
  bool is_writable() const override { return wait_for(sock_, POLLOUT, ms_count(write_timeout_)) > 0 && alive(); }

  ssize_t read(char* ptr, size_t size) override {
    if (!buffered()) {
      const int budget = read_budget_ms();
      if (budget <= 0 || wait_for(sock_, POLLIN, budget) <= 0) {
        timed_out_ = true;
        return -1;
      }
      ssize_t n;
      do n = ::recv(sock_, buf_, sizeof(buf_), 0);
      while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      pos_ = 0;
      len_ = size_t(n);
    }
    const size_t n = std::min(size, len_ - pos_);
    std::memcpy(ptr, buf_ + pos_, n);
    pos_ += n;
    return ssize_t(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    size_t sent = 0;
    while (sent < size) {
      if (wait_for(sock_, POLLOUT, ms_count(write_timeout_)) <= 0) return sent ? ssize_t(sent) : -1;
      const ssize_t n = ::send(sock_, ptr + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        return sent ? ssize_t(sent) : -1;
      }
      sent += size_t(n);
    }
    return ssize_t(sent);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof(a);
    if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&a), &len) == 0) address_of(a, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof(a);
    if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&a), &len) == 0) address_of(a, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  // Time a read may wait: the read timeout, cut to what is left of the request's deadline.
  int read_budget_ms() const {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline_ - Clock::now());
    return ms_count(std::min(left, read_timeout_));
  }
  // False once the client has closed its side (a streamed generation then stops early).
  bool alive() const {
    if (wait_for(sock_, POLLIN, 0) <= 0) return true;
    char c;
    return ::recv(sock_, &c, 1, MSG_PEEK | MSG_DONTWAIT) != 0;
  }

  socket_t sock_;
  milliseconds read_timeout_, write_timeout_;
  Clock::time_point deadline_ = Clock::now();
  char buf_[4096];
  size_t pos_ = 0, len_ = 0;
  bool timed_out_ = false;
};

// Closes after the response has left: a close() with unread request bytes (a refused body)
// sends a reset, which can destroy the response before the client reads it. So: end our side,
// discard what the client still sends for a moment, then close.
void lingering_close(socket_t sock) {
  ::shutdown(sock, SHUT_WR);
  char buf[4096];
  size_t drained = 0;
  const auto end = Clock::now() + milliseconds(200);
  while (drained < (1u << 20) && Clock::now() < end && wait_for(sock, POLLIN, 50) > 0) {
    const ssize_t n = ::recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) break;
    drained += size_t(n);
  }
  ::close(sock);
}

}  // namespace

HardenedHttpServer::HardenedHttpServer(const ConnectionLimits& limits) : limits_(limits) {
  const size_t n = limits.worker_threads;
  new_task_queue = [n] { return new httplib::ThreadPool(n); };
  set_keep_alive_max_count(limits.keep_alive_max);
}

bool HardenedHttpServer::raise_backlog() {
  const socket_t s = svr_sock_;
  return s != INVALID_SOCKET && ::listen(s, limits_.listen_backlog) == 0;
}

void HardenedHttpServer::close_after_response() { t_close_after_response = true; }

bool HardenedHttpServer::process_and_close_socket(socket_t sock) {
  DeadlineStream strm(sock, limits_.read_timeout, limits_.write_timeout);
  const auto stopping = [this] { return svr_sock_ == INVALID_SOCKET; };
  bool ret = false;
  for (size_t left = limits_.keep_alive_max; left > 0 && !stopping(); --left) {
    // Idle wait for the next request, in slices so that stop() is noticed.
    bool ready = strm.buffered();
    for (auto end = Clock::now() + limits_.keep_alive_timeout; !ready && !stopping() && Clock::now() < end;) {
      const int r = wait_for(sock, POLLIN, 100);
      if (r < 0) break;
      ready = r > 0;
    }
    if (!ready || stopping()) break;
    strm.set_deadline(Clock::now() + limits_.request_deadline);
    t_close_after_response = false;
    bool closed = false;
    ret = process_request(strm, left == 1, closed, setup_);
    if (!ret || closed || t_close_after_response || strm.timed_out()) break;
  }
  lingering_close(sock);
  return ret;
}

}  // namespace layerlab::server
