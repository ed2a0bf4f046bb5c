// layerlab command-line entry point: dispatches to one sub-command per file.
#include <cstdio>
#include <exception>
#include <string>

#include "args.h"
#include "commands.h"
#include "layerlab/error.h"

namespace {

struct Command {
  const char* name;
  int (*run)(const layerlab::cli::Argv&);
  const char* help;
};

const Command kCommands[] = {
    {"info", layerlab::cli::cmd_info, "architecture, sizes and parameter count of a model folder"},
    {"forward", layerlab::cli::cmd_forward, "run a forward pass (optionally under a plan) and dump tensors"},
    {"generate", layerlab::cli::cmd_generate, "sample text from a model"},
    {"similarity", layerlab::cli::cmd_similarity, "cosine similarity of hidden states between every pair of steps"},
    {"tokenize", layerlab::cli::cmd_tokenize, "print the token ids and pieces of a text"},
    {"train", layerlab::cli::cmd_train, "train a GPT-style model from scratch (preln/parallel/sas/sasp blocks); compare runs"},
    {"finetune", layerlab::cli::cmd_finetune, "fine-tune a BERT model on a GLUE task under a plan (head only or full); dev metrics"},
    {"serve", layerlab::cli::cmd_serve, "the explainer: web page and JSON API (attention, logit lens, plans)"},
    {"eval", layerlab::cli::cmd_eval, "score a benchmark (lambada, hellaswag, arc, winogrande, gsm8k, perplexity, mlm) under a plan"},
    {"sweep", layerlab::cli::cmd_sweep, "every Painters variant x N x seed x task, resumable; --summary normalises"},
    {"plot", layerlab::cli::cmd_plot, "SVG figures of sweep results and similarity heatmaps"},
    {"export", layerlab::cli::cmd_export, "write a plan's layers as a model of its own (Hugging Face folder or GGUF file)"},
    {"convert", layerlab::cli::cmd_convert, "convert a model between Hugging Face and GGUF, or to another weight type"},
};

void usage() {
  std::fprintf(stderr, "usage: layerlab <command> [options]\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(stderr, "  %-10s %s\n", c.name, c.help);
  std::fprintf(stderr, "\nlayerlab <command> --help: every option of a command, with its type, default and meaning\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    usage();
    return argc < 2 ? 2 : 0;
  }
  const std::string name = argv[1];
  layerlab::cli::Argv rest(argv + 2, argv + argc);
  for (const auto& c : kCommands) {
    if (name != c.name) continue;
    try {
      return c.run(rest);  // a command prints its own --help (args.h) and returns 0
    } catch (const layerlab::OptionError& e) {
      // The library names the field (eval_every); the user typed the flag (--eval-every).
      std::string flag = "--" + e.field();
      for (char& ch : flag) ch = ch == '_' ? '-' : ch;
      std::fprintf(stderr, "layerlab %s: error: %s: %s\n", c.name, flag.c_str(), e.reason().c_str());
      return 1;
    } catch (const layerlab::Error& e) {
      std::fprintf(stderr, "layerlab %s: error: %s\n", c.name, e.what());
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "layerlab %s: internal error: %s\n", c.name, e.what());
      return 3;
    }
  }
  std::fprintf(stderr, "layerlab: unknown command '%s'\n", name.c_str());
  usage();
  return 2;
}
