#include "request_fields.h"

#include <cmath>

#include "http_error.h"
#include "layerlab/error.h"
#include "utf8.h"
#include "util/json_depth.h"

namespace layerlab::server {

std::string quote_prefix(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return "'" + std::string(s) + "'";
  const std::string cut(s.substr(0, max_bytes));
  return "'" + cut.substr(0, complete_utf8_prefix(cut)) + "...' (" + std::to_string(s.size()) + " bytes)";
}

std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::string: return "a string " + quote_prefix(v.get_ref<const std::string&>());
    case json::value_t::array: return "an array of " + std::to_string(v.size()) + " elements";
    case json::value_t::object: return "an object of " + std::to_string(v.size()) + " fields";
    case json::value_t::null: return "null";
    default: return v.dump();  // numbers and booleans
  }
}

json parse_body(const std::string& body) {
  if (body.empty()) bad_request("request body is empty; send a JSON object");
  try {
    check_json_depth(body, "request body");
  } catch (const Error& e) {
    bad_request(e.what());
  }
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Parse again for the position of the error (the non-throwing parse does not report it).
    try {
      (void)json::parse(body);
    } catch (const json::parse_error& e) {
      bad_request(std::string("request body is not valid JSON: ") + e.what());
    }
    bad_request("request body is not valid JSON");
  }
  if (!j.is_object()) bad_request("request body must be a JSON object, got " + std::string(j.type_name()));
  return j;
}

void check_fields(const json& body, std::initializer_list<const char*> allowed) {
  for (const auto& [key, value] : body.items()) {
    bool ok = false;
    for (const char* a : allowed) ok |= key == a;
    if (ok) continue;
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    bad_request("unknown field " + quote_prefix(key) + " (this endpoint accepts: " + list + ")");
  }
}

int int_field(const json& body, const char* name, int fallback, int lo, int hi) {
  if (!body.contains(name) || body[name].is_null()) return fallback;
  const json& v = body[name];
  if (!v.is_number_integer())
    bad_request(std::string("field '") + name + "' must be an integer, got " + describe(v));
  const auto x = v.get<int64_t>();
  if (x < lo || x > hi)
    bad_request(std::string("field '") + name + "' = " + std::to_string(x) + " is outside [" + std::to_string(lo) +
                ", " + std::to_string(hi) + "]");
  return static_cast<int>(x);
}

double number_field(const json& body, const char* name, double fallback, double lo, double hi) {
  if (!body.contains(name) || body[name].is_null()) return fallback;
  const json& v = body[name];
  if (!v.is_number()) bad_request(std::string("field '") + name + "' must be a number, got " + describe(v));
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    bad_request(std::string("field '") + name + "' = " + v.dump() + " is outside [" + json(lo).dump() + ", " +
                json(hi).dump() + "]");
  return x;
}

bool bool_field(const json& body, const char* name, bool fallback) {
  if (!body.contains(name) || body[name].is_null()) return fallback;
  if (!body[name].is_boolean())
    bad_request(std::string("field '") + name + "' must be true or false, got " + describe(body[name]));
  return body[name].get<bool>();
}

std::string string_field(const json& body, const char* name, const std::string& fallback) {
  if (!body.contains(name) || body[name].is_null()) return fallback;
  if (!body[name].is_string())
    bad_request(std::string("field '") + name + "' must be a string, got " + describe(body[name]));
  return body[name].get<std::string>();
}

}  // namespace layerlab::server
