#include "args.h"

#include <cerrno>
#include <cstdlib>

#include "layerlab/error.h"

namespace layerlab::cli {

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& value_options,
           const std::set<std::string>& flags) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.size() > 2 && a.rfind("--", 0) == 0) {
      std::string name = a.substr(2);
      std::string value;
      bool inline_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        inline_value = true;
      }
      if (flags.count(name)) {
        if (inline_value) fail("--" + name, "this flag takes no value");
        values_[name] = "1";
      } else if (value_options.count(name)) {
        if (!inline_value) {
          if (i + 1 >= argv.size()) fail("--" + name, "missing value");
          value = argv[++i];
        }
        values_[name] = value;
      } else if (name == "help") {
        throw HelpRequested{value_options, flags};
      } else {
        fail("--" + name, "unknown option");
      }
    } else {
      positional_.push_back(a);
    }
  }
}

bool Args::has(const std::string& name) const { return values_.count(name) > 0; }

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::string Args::require(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) fail("--" + name, "required option is missing");
  return it->second;
}

long Args::get_int(const std::string& name, long fallback) const {
  if (!has(name)) return fallback;
  const std::string s = get(name);
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno == ERANGE) fail("--" + name, "expected an integer, got '" + s + "'");
  return v;
}

double Args::get_double(const std::string& name, double fallback) const {
  if (!has(name)) return fallback;
  const std::string s = get(name);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || errno == ERANGE) fail("--" + name, "expected a number, got '" + s + "'");
  return v;
}

}  // namespace layerlab::cli
