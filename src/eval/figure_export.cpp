// PNG and PDF copies of SVG figures through rsvg-convert (Debian: librsvg2-bin), run without a
// shell; its absence is an error that says which package to install, found before any work.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/plot.h"

extern char** environ;

namespace layerlab {

namespace {

std::string find_rsvg_convert() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string d;
  while (std::getline(dirs, d, ':')) {
    const std::string p = (d.empty() ? std::string(".") : d) + "/rsvg-convert";
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

const char* kInstall = "PNG and PDF figures need rsvg-convert: apt-get install librsvg2-bin (scripts/deps.sh installs it)";

}  // namespace

std::vector<std::string> parse_figure_formats(const std::string& list, const std::string& flag) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  std::string f;
  while (std::getline(ss, f, ',')) {
    if (f != "svg" && f != "png" && f != "pdf") fail(flag, "unknown figure format '" + f + "' (svg, png or pdf)");
    if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
  }
  if (out.empty()) fail(flag, "give at least one format (svg, png, pdf)");
  const bool raster = std::find(out.begin(), out.end(), "png") != out.end() || std::find(out.begin(), out.end(), "pdf") != out.end();
  if (raster && find_rsvg_convert().empty()) fail(flag, kInstall);
  return out;
}

std::string convert_svg(const std::string& svg_path, const std::string& format) {
  const std::string tool = find_rsvg_convert();
  if (tool.empty()) fail(svg_path, kInstall);
  const std::string out = std::filesystem::path(svg_path).replace_extension("." + format).string();
  // PNG at twice the SVG's size: sharp in a paper or on a high-density screen.
  std::vector<std::string> args = {tool, "-f", format, "-o", out};
  if (format == "png") args.insert(args.end(), {"-z", "2", "-b", "white"});
  args.push_back(svg_path);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, tool.c_str(), nullptr, nullptr, argv.data(), environ) != 0) fail(svg_path, "cannot run " + tool);
  int status = 0;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail(out, "rsvg-convert failed to write it from " + svg_path);
  return out;
}

std::vector<std::string> write_figure(const std::string& svg_path, const std::string& svg,
                                      const std::vector<std::string>& formats) {
  write_file_atomic(svg_path, svg);
  std::vector<std::string> written = {svg_path};  // always: the source of the other formats
  for (const auto& f : formats)
    if (f != "svg") written.push_back(convert_svg(svg_path, f));
  return written;
}

}  // namespace layerlab
