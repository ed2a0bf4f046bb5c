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

// Throws Error(where + ": " + what). `where` is usually a file path, optionally with a field.
[[noreturn]] inline void fail(const std::string& where, const std::string& what) {
  throw Error(where + ": " + what);
}

}  // namespace layerlab
