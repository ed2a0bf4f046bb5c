#pragma once
// Options of the benchmark tasks, shared by eval and sweep: declared once, and checked against
// the tasks that will run and the model, so that an option no task uses is an error.
#include <string>
#include <vector>

#include "args.h"
#include "layerlab/eval.h"
#include "layerlab/model.h"
#include "layerlab/tokenizer.h"

namespace layerlab::cli {

struct TaskArgs {
  TaskOptions t;  // the library's defaults
  bool add_bos = false;
};

void add_task_options(Options& o, TaskArgs& a);
// Before the model loads: task names are known, their data files exist, and every task
// option given applies to at least one of `tasks`.
void check_task_args(const Options& o, const TaskArgs& a, const std::vector<std::string>& tasks,
                     const std::vector<std::string>& data_files);
// With the model: --window within its context, --add-bos only with a tokenizer that has a BOS.
void check_task_args_for_model(const Options& o, const TaskArgs& a, const std::vector<std::string>& tasks,
                               const ModelConfig& cfg, const Tokenizer& tok);
// After make_task, before any work: a data file without items (or, for perplexity, without
// any text) is an error naming the file.
void check_task_has_items(const std::string& task_name, const std::string& path, const Task& task,
                          const TextCodec& codec, const TaskArgs& a);

}  // namespace layerlab::cli
