#pragma once
// Runs the layerlab CLI built with the tests (LAYERLAB_CLI) and captures what it prints.
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace layerlab::testing {

struct CliRun {
  int status;       // exit status (-1 when the command could not be started)
  std::string out;  // stdout and stderr together
};

inline CliRun run_cli(const std::string& args) {
  const std::string cmd = std::string(LAYERLAB_CLI) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {-1, ""};
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  return {WEXITSTATUS(::pclose(p)), out};
}

}  // namespace layerlab::testing
