#include "request_fields.h"

#include <cmath>

#include "http_error.h"
#include "layerlab/error.h"
#include "util/json_depth.h"

namespace layerlab::server {

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
    bad_request("unknown field '" + key + "' (this endpoint accepts: " + list + ")");
  }
}

int int_field(const json& body, const char* name, int fallback, int lo, int hi) {
  if (!body.contains(name) || body[name].is_null()) return fallback;
  const json& v = body[name];
  if (!v.is_number_integer())
    bad_request(std::string("field '") + name + "' must be an integer, got " + v.dump());
  const auto x = v.get<int64_t>();
  if (x < lo || x > hi)
    bad_request(std::string("field '") + name + "' = " + std::to_string(x) + " is outside [" + std::to_string(lo) +
                ", " + std::to_string(hi) + "]");
  return static_cast<int>(x);
}

double number_field(const json& body, const char* name, double fallback, double lo, double hi) {
  if (!body.contains(name) || body[name].is_null()) return fallback;
  const json& v = body[name];
  if (!v.is_number()) bad_request(std::string("field '") + name + "' must be a number, got " + v.dump());
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    bad_request(std::string("field '") + name + "' = " + v.dump() + " is outside [" + json(lo).dump() + ", " +
                json(hi).dump() + "]");
  return x;
}

bool bool_field(const json& body, const char* name, bool fallback) {
  if (!body.contains(name) || body[name].is_null()) return fallback;
  if (!body[name].is_boolean()) bad_request(std::string("field '") + name + "' must be true or false");
  return body[name].get<bool>();
}

std::string string_field(const json& body, const char* name, const std::string& fallback) {
  if (!body.contains(name) || body[name].is_null()) return fallback;
  if (!body[name].is_string()) bad_request(std::string("field '") + name + "' must be a string");
  return body[name].get<std::string>();
}

}  // namespace layerlab::server
