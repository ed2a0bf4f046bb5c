#pragma once
// Every CLI sub-command: one function per file (app/cmd_<name>.cpp), listed in main.cpp.
#include <string>
#include <vector>

namespace layerlab::cli {

using Argv = std::vector<std::string>;

int cmd_info(const Argv& args);
int cmd_forward(const Argv& args);
int cmd_generate(const Argv& args);
int cmd_similarity(const Argv& args);
int cmd_tokenize(const Argv& args);
int cmd_train(const Argv& args);
int cmd_finetune(const Argv& args);
int cmd_serve(const Argv& args);
int cmd_eval(const Argv& args);
int cmd_sweep(const Argv& args);
int cmd_plot(const Argv& args);
int cmd_export(const Argv& args);
int cmd_convert(const Argv& args);

}  // namespace layerlab::cli
