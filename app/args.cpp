#include "args.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "layerlab/error.h"

namespace layerlab::cli {

namespace {

std::string format_number(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

// "at least 1", "in [0, 1]", "" (no bound beyond the type's own).
std::string range_text(const std::string& lo, const std::string& hi, bool has_lo, bool has_hi) {
  if (has_lo && has_hi) return "in [" + lo + ", " + hi + "]";
  if (has_lo) return ">= " + lo;
  if (has_hi) return "<= " + hi;
  return "";
}

std::string integer_range(long long lo, long long hi, long long type_lo, long long type_hi) {
  return range_text(std::to_string(lo), std::to_string(hi), lo > type_lo, hi < type_hi);
}

std::string number_range(double lo, double hi) {
  return range_text(format_number(lo), format_number(hi), std::isfinite(lo), std::isfinite(hi));
}

// The validators see the raw text before CLI11 converts it, and rewrite it in plain decimal
// (CLI11 would read "010" as octal and "0x10" as hex).
CLI::Validator integer_check(long long lo, long long hi, long long type_lo, long long type_hi) {
  const std::string range = integer_range(lo, hi, type_lo, type_hi);
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        char* end = nullptr;
        errno = 0;
        const long long v = std::strtoll(s.c_str(), &end, 10);
        if (s.empty() || *end != '\0' || s.find_first_of(" \t") != std::string::npos)
          return "expected an integer, got '" + s + "'";
        if (errno == ERANGE || v < type_lo || v > type_hi) return "'" + s + "' is out of range";
        if (v < lo || v > hi) return "must be " + range + ", got " + s;
        s = std::to_string(v);
        return "";
      },
      "");  // no description: CLI11 would append it to the type name; help() prints the range
}

CLI::Validator seed_check() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        char* end = nullptr;
        errno = 0;
        if (s.empty() || s[0] == '-' || s[0] == '+' || s[0] == ' ') return "expected an integer >= 0, got '" + s + "'";
        const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
        if (*end != '\0') return "expected an integer >= 0, got '" + s + "'";
        if (errno == ERANGE) return "'" + s + "' is out of range (at most 2^64 - 1)";
        s = std::to_string(v);
        return "";
      },
      "");
}

CLI::Validator number_check(double lo, double hi) {
  const std::string range = number_range(lo, hi);
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(s.c_str(), &end);
        if (s.empty() || *end != '\0' || s.find_first_of(" \t") != std::string::npos)
          return "expected a number, got '" + s + "'";
        if (!std::isfinite(v) || errno == ERANGE) return "'" + s + "' is not a finite number";
        if (v < lo || v > hi) return "must be " + range + ", got " + s;
        char b[40];
        std::snprintf(b, sizeof b, "%.17g", v);
        s = b;
        return "";
      },
      "");
}

// CLI11 lets a flag take "=value" (--quiet=0); a flag here takes none.
CLI::Validator flag_check() {
  return CLI::Validator(
      [](std::string& s) -> std::string { return s == "true" ? "" : "this flag takes no value"; }, "");
}

// Wraps `text` to `width` columns, the lines after the first indented by `indent`.
std::string wrap(const std::string& text, size_t first_col, size_t indent, size_t width) {
  std::string out, word;
  size_t col = first_col;
  auto flush = [&] {
    if (word.empty()) return;
    if (col > indent && col + 1 + word.size() > width) {
      out += "\n" + std::string(indent, ' ');
      col = indent;
    } else if (col > first_col || (col > indent && !out.empty())) {
      out += ' ';
      ++col;
    }
    out += word;
    col += word.size();
    word.clear();
  };
  for (char c : text) {
    if (c == ' ') flush();
    else word += c;
  }
  flush();
  return out;
}

}  // namespace

Options::Options(std::string command, std::string summary, std::string usage)
    : app_(summary, "layerlab " + command),
      command_(std::move(command)),
      summary_(std::move(summary)),
      usage_(std::move(usage)) {
  app_.set_help_flag("--help,-h", "print this table (name, type, default and meaning of every option) and exit");
  app_.allow_extras(true);  // unknown options are reported by parse(), before missing required ones
  // A later value overrides an earlier one (scripts append overrides to a base command).
  app_.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

CLI::Option* Options::finish(CLI::Option* o, const std::string& type, const std::string& default_str) {
  o->type_name(type);
  if (!default_str.empty()) o->default_str(default_str);
  return o;
}

CLI::Option* Options::text(const std::string& names, std::string& var, const std::string& type,
                           const std::string& help, const std::string& default_text) {
  // CLI11 gives a value option the next argument whatever it is: "--data --device cpu" would
  // read "--device" as the file. A value that is one of this command's options is a missing value.
  auto* o = app_.add_option(names, var, help)->check(CLI::Validator(
      [this](std::string& v) -> std::string {
        if (v.size() > 2 && v.rfind("--", 0) == 0 && app_.get_option_no_throw(v.substr(0, v.find('='))) != nullptr)
          return "missing value (the next argument is the option " + v.substr(0, v.find('=')) + ")";
        return "";
      },
      ""));
  return finish(o, type, default_text.empty() ? var : default_text);
}

CLI::Option* Options::integer(const std::string& names, int& var, const std::string& help, long long lo, long long hi,
                              const std::string& default_text) {
  auto* o = app_.add_option(names, var, help)->check(integer_check(lo, hi, INT_MIN, INT_MAX));
  ranges_[o] = integer_range(lo, hi, INT_MIN, INT_MAX);
  return finish(o, "INT", default_text.empty() ? std::to_string(var) : default_text);
}

CLI::Option* Options::integer(const std::string& names, int64_t& var, const std::string& help, long long lo,
                              long long hi, const std::string& default_text) {
  auto* o = app_.add_option(names, var, help)->check(integer_check(lo, hi, INT64_MIN, INT64_MAX));
  ranges_[o] = integer_range(lo, hi, INT64_MIN, INT64_MAX);
  return finish(o, "INT", default_text.empty() ? std::to_string(var) : default_text);
}

CLI::Option* Options::seed(const std::string& names, uint64_t& var, const std::string& help,
                           const std::string& default_text) {
  auto* o = app_.add_option(names, var, help)->check(seed_check());
  return finish(o, "SEED", default_text.empty() ? std::to_string(var) : default_text);
}

CLI::Option* Options::number(const std::string& names, double& var, const std::string& help, double lo, double hi,
                             const std::string& default_text) {
  auto* o = app_.add_option(names, var, help)->check(number_check(lo, hi));
  ranges_[o] = number_range(lo, hi);
  return finish(o, "FLOAT", default_text.empty() ? format_number(var) : default_text);
}

CLI::Option* Options::flag(const std::string& names, bool& var, const std::string& help) {
  return app_.add_flag(names, var, help)->check(flag_check());
}

CLI::Option* Options::positional(const std::string& name, std::vector<std::string>& var, const std::string& help) {
  return app_.add_option(name, var, help);
}

CLI::Option* Options::required(CLI::Option* o) {
  required_.insert(o);
  return o;
}

bool Options::given(const std::string& name) const {
  const CLI::Option* o = app_.get_option_no_throw(name);
  return o != nullptr && o->count() > 0;
}

std::vector<std::string> Options::given_names() const {
  std::vector<std::string> out;
  for (const CLI::Option* o : app_.get_options())
    if (o->count() > 0) out.push_back(o->get_lnames().empty() ? o->get_name() : "--" + o->get_lnames()[0]);
  return out;
}

std::string Options::help() const {
  struct Row {
    std::string left, right;
  };
  std::vector<Row> options, arguments;
  std::vector<const CLI::Option*> all = app_.get_options();
  const CLI::Option* help_flag = app_.get_help_ptr();
  all.erase(std::remove(all.begin(), all.end(), help_flag), all.end());
  all.push_back(help_flag);  // last
  for (const CLI::Option* o : all) {
    std::string left;
    if (o->get_positional() && o->get_lnames().empty() && o->get_snames().empty()) {
      left = o->get_name() + "...";
    } else {
      for (const auto& l : o->get_lnames()) left += (left.empty() ? "--" : ", --") + l;
      for (const auto& s : o->get_snames()) left += (left.empty() ? "-" : ", -") + s;
    }
    std::vector<std::string> notes;
    const bool is_flag = o->get_expected_min() == 0 && !o->get_positional();
    if (!is_flag && !o->get_type_name().empty() && !o->get_positional()) left += " " + o->get_type_name();
    // The range its check enforces, then the default.
    const auto it = ranges_.find(o);
    if (it != ranges_.end() && !it->second.empty()) notes.push_back(it->second);
    if (is_flag && o != app_.get_help_ptr()) notes.push_back("default: off");
    if (required_.count(o)) notes.push_back("required");
    else if (!o->get_default_str().empty()) notes.push_back("default: " + o->get_default_str());
    std::string right = o->get_description();
    if (!notes.empty()) {
      right += " (";
      for (size_t i = 0; i < notes.size(); ++i) right += (i ? ", " : "") + notes[i];
      right += ")";
    }
    (o->get_positional() && o->get_lnames().empty() ? arguments : options).push_back({left, right});
  }
  size_t col = 0;
  for (const auto* rows : {&options, &arguments})
    for (const Row& r : *rows) col = std::max(col, r.left.size());
  col = std::min<size_t>(col, 30) + 4;
  const size_t width = 110;
  std::string out = "usage: layerlab " + command_ + " " + usage_ + "\n  " + wrap(summary_, 2, 2, width) + "\n";
  auto section = [&](const char* title, const std::vector<Row>& rows) {
    if (rows.empty()) return;
    out += std::string("\n") + title + ":\n";
    for (const Row& r : rows) {
      std::string line = "  " + r.left;
      if (line.size() + 2 > col) line += "\n" + std::string(col, ' ');
      else line += std::string(col - line.size(), ' ');
      out += line + wrap(r.right, col, col, width) + "\n";
    }
  };
  section("arguments", arguments);
  section("options", options);
  return out;
}

bool Options::parse(const Argv& argv) {
  std::vector<std::string> reversed(argv.rbegin(), argv.rend());  // CLI11 consumes from the back
  try {
    app_.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::fputs(help().c_str(), stdout);
    return false;
  } catch (const CLI::ArgumentMismatch& e) {
    const std::string m = e.what();
    const std::string name = m.substr(0, m.find(':'));
    if (m.find("missing") != std::string::npos) fail(name, "missing value");
    if (m.find("At Most") != std::string::npos) fail(name, "given more than once");
    throw Error(m);
  } catch (const CLI::ParseError& e) {
    throw Error(e.what());
  }
  for (const std::string& r : app_.remaining()) {
    if (r.size() > 1 && r[0] == '-') fail(r.substr(0, r.find('=')), "unknown option (see layerlab " + command_ + " --help)");
    fail("'" + r + "'", "unexpected argument");
  }
  for (const CLI::Option* o : app_.get_options())
    if (required_.count(o) && o->count() == 0) fail(o->get_name(), "required option is missing");
  return true;
}

}  // namespace layerlab::cli
