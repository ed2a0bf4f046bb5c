#pragma once
// JSON responses and the one place that turns every handler failure into a JSON error.
#include <httplib.h>

#include <exception>
#include <string>

#include <nlohmann/json.hpp>

#include "http_error.h"
#include "layerlab/error.h"
#include "utf8.h"

namespace layerlab::server {

using nlohmann::json;

inline std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

inline void send_json(httplib::Response& res, const json& j, int status = 200) {
  res.status = status;
  res.set_content(dump(j), "application/json");
}

// Messages are cut to 300 bytes: the last guard against echoing a client's value (a parse
// error quoting a long token, a plan parser quoting its input).
inline void send_error(httplib::Response& res, int status, std::string message) {
  constexpr size_t kMax = 300;
  if (message.size() > kMax) {
    message.resize(kMax);
    message = message.substr(0, complete_utf8_prefix(message)) + "... (message cut)";
  }
  send_json(res, {{"error", message}, {"status", status}}, status);
}

// Runs a handler body, turning every failure into a JSON error response: HttpError keeps its
// status, a layerlab::Error is the client's input (400), anything else is a 500.
template <class Fn>
void guarded(httplib::Response& res, Fn fn) {
  try {
    fn();
  } catch (const HttpError& e) {
    send_error(res, e.status, e.what());
  } catch (const Error& e) {
    send_error(res, 400, e.what());
  } catch (const json::exception& e) {
    send_error(res, 400, std::string("bad request: ") + e.what());
  } catch (const std::bad_alloc&) {
    send_error(res, 503, "out of memory for this request; try a shorter prompt or plan");
  } catch (const std::exception& e) {
    send_error(res, 500, std::string("internal error: ") + e.what());
  }
}

}  // namespace layerlab::server
