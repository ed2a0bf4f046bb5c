#pragma once
// Typed, range-checked access to the fields of a JSON request body. Every failure is a 400
// naming the field, so a client typo ("temprature") or a wrong type never passes silently.
#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace layerlab::server {

using nlohmann::json;

// s in single quotes, cut to at most max_bytes (at a UTF-8 boundary) and then marked with its
// size, so an error message never echoes a whole client value: 'abc...' (250000 bytes).
std::string quote_prefix(std::string_view s, size_t max_bytes = 40);
// What a JSON value is, for "must be X, got Y" messages: "a string 'ab...' (9000 bytes)",
// "an array of 3 elements", "an object", "true", "1.5" (numbers are short).
std::string describe(const json& v);

// Parses a request body that must be a JSON object.
json parse_body(const std::string& body);
// 400 if the object has a key not in `allowed`.
void check_fields(const json& body, std::initializer_list<const char*> allowed);

int int_field(const json& body, const char* name, int fallback, int lo, int hi);
double number_field(const json& body, const char* name, double fallback, double lo, double hi);
bool bool_field(const json& body, const char* name, bool fallback);
std::string string_field(const json& body, const char* name, const std::string& fallback);

}  // namespace layerlab::server
