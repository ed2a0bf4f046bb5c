#pragma once
// An error that maps to an HTTP status: bad requests (400) name the field and the rule broken.
#include <stdexcept>
#include <string>

namespace layerlab::server {

class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message) : std::runtime_error(message), status(status) {}
  int status;
};

[[noreturn]] inline void bad_request(const std::string& message) { throw HttpError(400, message); }

}  // namespace layerlab::server
