#pragma once
// Typed, range-checked access to the fields of a JSON request body. Every failure is a 400
// naming the field, so a client typo ("temprature") or a wrong type never passes silently.
#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

namespace layerlab::server {

using nlohmann::json;

// Parses a request body that must be a JSON object.
json parse_body(const std::string& body);
// 400 if the object has a key not in `allowed`.
void check_fields(const json& body, std::initializer_list<const char*> allowed);

int int_field(const json& body, const char* name, int fallback, int lo, int hi);
double number_field(const json& body, const char* name, double fallback, double lo, double hi);
bool bool_field(const json& body, const char* name, bool fallback);
std::string string_field(const json& body, const char* name, const std::string& fallback);

}  // namespace layerlab::server
