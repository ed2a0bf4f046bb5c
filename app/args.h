#pragma once
// A command's option table, on CLI11: every option is declared once, with its name, type,
// default and help text, bound to the variable that receives it. `--help` prints the table
// (name, type, default, description), parse() fills the variables, and the checks that a
// value is well-formed and in range come from the same declaration. Unknown options are
// errors (so a typo never silently changes an experiment); every usage error is a
// layerlab::Error "--flag: why", which the CLI prints as `layerlab <cmd>: error: ...` (exit 1).
#include <CLI/CLI.hpp>

#include <climits>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace layerlab::cli {

using Argv = std::vector<std::string>;

class Options {
 public:
  // `usage` is the line after "usage: layerlab <command> " (e.g. "[options]").
  Options(std::string command, std::string summary, std::string usage = "[options]");

  // Value options. `names` is "--long" or "--long,-s". The variable's value when declared is
  // the default shown by --help; `default_text` replaces it where the default is a rule
  // ("the model's context") or there is none ("not written"). Integers and numbers are
  // checked against [lo, hi] and their type's range while parsing.
  CLI::Option* text(const std::string& names, std::string& var, const std::string& type, const std::string& help,
                    const std::string& default_text = "");
  CLI::Option* integer(const std::string& names, int& var, const std::string& help, long long lo = INT_MIN,
                       long long hi = INT_MAX, const std::string& default_text = "");
  CLI::Option* integer(const std::string& names, int64_t& var, const std::string& help, long long lo = INT64_MIN,
                       long long hi = INT64_MAX, const std::string& default_text = "");
  // A seed: an integer in [0, 2^64).
  CLI::Option* seed(const std::string& names, uint64_t& var, const std::string& help,
                    const std::string& default_text = "");
  CLI::Option* number(const std::string& names, double& var, const std::string& help, double lo, double hi,
                      const std::string& default_text = "");
  CLI::Option* flag(const std::string& names, bool& var, const std::string& help);
  // Positional arguments (any number), listed in --help under their name.
  CLI::Option* positional(const std::string& name, std::vector<std::string>& var, const std::string& help);

  // Marks an option as required: parse() fails without it, --help says "required". (Not
  // CLI11's own flag, which would report a missing option before an unknown one.)
  CLI::Option* required(CLI::Option* o);

  // Parses argv (without the command name). Returns false when --help was asked for: the
  // table has been printed and the command should exit 0. Throws layerlab::Error on misuse.
  bool parse(const Argv& argv);
  // Whether the option was given on the command line (by any of its names), e.g. "--n".
  bool given(const std::string& name) const;
  // Every option given, by its first long name ("--n"), positionals by their name.
  std::vector<std::string> given_names() const;
  const std::string& command() const { return command_; }
  // The help text (what --help prints).
  std::string help() const;

 private:
  CLI::Option* finish(CLI::Option* o, const std::string& type, const std::string& default_str);
  CLI::App app_;
  std::map<const CLI::Option*, std::string> ranges_;  // "in [0, 1]", ">= 1": for --help
  std::set<const CLI::Option*> required_;
  std::string command_, summary_, usage_;
};

}  // namespace layerlab::cli
