// layerlab finetune --model BERT_DIR --task T --data-dir DIR [--plan P | --variant V --n N]
//                   [--head-only] --epochs E --lr LR --batch B --max-length L --seed S --out DIR
// Fine-tunes a BERT encoder's classification (or regression) head on a GLUE task under a plan
// and evaluates on the dev set after each epoch (docs/GLUE.md).
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "layerlab/error.h"
#include "layerlab/finetune.h"
#include "layerlab/fs.h"
#include "layerlab/glue.h"
#include "model_args.h"

namespace layerlab::cli {

int cmd_finetune(const Argv& argv) {
  Options o("finetune", "fine-tune a BERT model on a GLUE task under a plan; dev metrics per epoch (docs/GLUE.md)");
  ModelArgs ma;
  PlanArgs pa;
  finetune::Options f;
  f.head_only = false;  // full fine-tuning unless --head-only
  std::string tasks_help;
  for (const auto& t : glue::task_names()) tasks_help += (tasks_help.empty() ? "" : ", ") + t;
  add_model_option(o, ma);
  add_threads_option(o, ma.threads);
  o.required(o.text("--task", f.task, "TASK", "the GLUE task: " + tasks_help));
  o.required(o.text("--data-dir", f.data_dir, "DIR", "folder with <task>/train.jsonl and <task>/validation.jsonl (HF glue layout)"));
  o.required(o.text("--out", f.out_dir, "DIR", "output folder (created): results.json, checkpoint.safetensors, head_init.safetensors"));
  add_plan_options(o, pa, /*with_seed=*/false);
  o.flag("--head-only", f.head_only, "freeze the encoder: features under the plan computed once, only the head trains");
  o.integer("--epochs", f.epochs, "training epochs", 1, 1000);
  o.number("--lr", f.lr, "peak learning rate (AdamW)", 0, 1);
  o.integer("--batch", f.batch, "examples per step", 1, 1 << 16);
  o.integer("--max-length", f.max_length, "tokens per input, [CLS] and [SEP]s included (longest-first truncation)", 3, 1 << 20);
  o.number("--warmup-ratio", f.warmup_ratio, "fraction of the steps with linear warm-up (then linear decay to 0)", 0, 1);
  o.number("--weight-decay", f.weight_decay, "decoupled weight decay on weight matrices", 0, 1);
  o.number("--clip", f.clip, "max global gradient norm (0: none)", 0, 1e6);
  o.seed("--seed", f.seed, "head initialisation and batch order; also the order of --variant shuffle");
  o.integer("--limit-train", f.limit_train, "use the first N training records only", 0, INT64_MAX, "all");
  o.integer("--limit-dev", f.limit_dev, "use the first N dev records only", 0, INT64_MAX, "all");
  o.integer("--log-every", f.log_every, "print the training loss every N steps", 0, INT32_MAX, "never");
  o.integer("--record-steps", f.record_steps, "write the first N steps' inputs and losses to OUT/first_steps.json", 0, 100000, "none");
  o.integer("--stop-after", f.stop_after, "stop after N epochs (continue later with --resume and the same options)", 0,
            1000, "never");
  o.flag("--resume", f.resume, "continue from OUT/checkpoint.safetensors (exact: same batches, same optimizer state)");
  if (!o.parse(argv)) return 0;
  check_plan_args(o, pa);
  glue::task_spec(f.task);  // the name, before any work
  if (!is_directory(f.data_dir)) fail("--data-dir", "'" + f.data_dir + "' is not a folder");
  std::error_code ec;
  std::filesystem::create_directories(f.out_dir, ec);
  if (ec || !is_directory(f.out_dir)) fail("--out", "cannot create the folder '" + f.out_dir + "': " + ec.message());
  apply_threads(ma.threads);
  f.model_dir = ma.model;
  pa.seed = f.seed;  // --variant shuffle
  {
    auto model = load_model(ma.model);  // the plan is checked against the model's layers
    f.plan = plan_from_args(o, pa, model->config());
  }
  const nlohmann::json r = finetune::run(f);
  std::printf("task %s, plan %s, %s: dev %s, task score %.4f\n", f.task.c_str(), r["plan"].get<std::string>().c_str(),
              f.head_only ? "head only" : "full", r["dev"].dump().c_str(), r["task_score"].get<double>());
  std::printf("results: %s/results.json\n", f.out_dir.c_str());
  return 0;
}

}  // namespace layerlab::cli
