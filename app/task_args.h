#pragma once
// Options of the benchmark tasks, shared by eval and sweep: declared once, and checked against
// the tasks that will run and the model, so that an option no task uses is an error.
#include <string>
#include <vector>

#include "args.h"
#include "layerlab/eval.h"
#include "layerlab/model.h"
#include "layerlab/tokenizer.h"
#include "text_input.h"

namespace layerlab::cli {

struct TaskArgs {
  TaskOptions t;  // the library's defaults
  BosArgs bos;
  bool add_bos = false;  // the model's policy or the flags' (check_task_args_for_model)
  bool context_sharing = false;  // sets t.score.context_sharing (check_task_args)
};

void add_task_options(Options& o, TaskArgs& a);

// --data-dir: each task's data file by its usual name under one folder (the layout of
// ../shared/data). The table, in task order: {task, path under the folder}.
const std::vector<std::pair<std::string, std::string>>& usual_data_files();
void add_data_dir_option(Options& o, std::string& dir);
// DIR/<usual name of task>; an Error naming the task, the path tried and the tasks that have a
// usual name when the task has none or the file is missing.
std::string data_file_in_dir(const std::string& dir, const std::string& task);
// Before the model loads: task names are known, their data files exist, and every task
// option given applies to at least one of `tasks`.
void check_task_args(const Options& o, TaskArgs& a, const std::vector<std::string>& tasks,
                     const std::vector<std::string>& data_files);
// With the model: --window within its context; sets add_bos from the model's BOS policy or
// --add-bos / --no-add-bos (--add-bos only with a tokenizer that has a BOS).
void check_task_args_for_model(const Options& o, TaskArgs& a, const std::vector<std::string>& tasks,
                               const std::string& model_path, const ModelConfig& cfg, const Tokenizer& tok);
// After make_task, before any work: a data file without items (or, for perplexity, without
// any text) is an error naming the file.
void check_task_has_items(const std::string& task_name, const std::string& path, const Task& task,
                          const TextCodec& codec, const TaskArgs& a);

}  // namespace layerlab::cli
