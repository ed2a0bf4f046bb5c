// A `layerlab train`-only driver for machines where the full CLI cannot link (the GPU machine
// lacks the explainer server's cpp-httplib library). Same command and flags:
//   layerlab-train train --blocks ... (or without the leading "train").
#include <cstdio>
#include <exception>

#include "commands.h"
#include "layerlab/error.h"

int main(int argc, char** argv) {
  layerlab::cli::Argv args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "train") args.erase(args.begin());
  try {
    return layerlab::cli::cmd_train(args);
  } catch (const layerlab::Error& e) {
    std::fprintf(stderr, "layerlab train: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "layerlab train: internal error: %s\n", e.what());
    return 3;
  }
}
