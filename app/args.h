#pragma once
// Minimal flag parser for the CLI: `--name value`, `--flag`, and positional arguments.
// Unknown flags are an error so a typo never silently changes an experiment.
#include <map>
#include <set>
#include <string>
#include <vector>

namespace layerlab::cli {

// Thrown by Args for `--help`: the command's options, for main to print.
struct HelpRequested {
  std::set<std::string> value_options, flags;
};

class Args {
 public:
  // `flags` lists boolean flags (no value); every other --name takes one value. `--help`
  // throws HelpRequested.
  Args(const std::vector<std::string>& argv, const std::set<std::string>& value_options,
       const std::set<std::string>& flags = {});

  bool has(const std::string& name) const;
  std::string get(const std::string& name, const std::string& fallback = "") const;
  std::string require(const std::string& name) const;  // error if missing
  long get_int(const std::string& name, long fallback) const;
  double get_double(const std::string& name, double fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace layerlab::cli
