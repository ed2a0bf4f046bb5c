#pragma once
// One exception type for every user-facing failure: the message names the file and the
// field or tensor involved, so the CLI can print it and exit non-zero.
#include <stdexcept>
#include <string>

namespace layerlab {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An option of a library call that cannot be used, named by its field: the snake_case member
// of the options struct ("lr", "eval_every", "device"). A library caller reads
// "lr: must be positive"; the CLI reports it under the flag that sets the field (--lr).
class OptionError : public Error {
 public:
  OptionError(const std::string& field, const std::string& reason)
      : Error(field + ": " + reason), field_(field), reason_(reason) {}
  const std::string& field() const { return field_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string field_, reason_;
};

[[noreturn]] inline void fail_option(const std::string& field, const std::string& reason) {
  throw OptionError(field, reason);
}

// Throws Error(where + ": " + what). `where` is usually a file path, optionally with a field.
[[noreturn]] inline void fail(const std::string& where, const std::string& what) {
  throw Error(where + ": " + what);
}

}  // namespace layerlab
