// layerlab train --blocks sasp --layers 18 --width 768 --heads 12 --context 128 --tokenizer DIR [--device cuda]
//                --data FILE [--val FILE] --steps N --batch B --lr LR --out DIR [...]
// layerlab train --compare RUN1 RUN2 ... --out PREFIX
// Trains a GPT-style model from scratch (docs/TRAINING.md), or compares finished runs.
#include <cblas.h>
#include <omp.h>

#include <cstdio>

#include "args.h"
#include "commands.h"
#include "layerlab/error.h"
#include "layerlab/train.h"

namespace layerlab::cli {

namespace {

const char* kUsage =
    "usage: layerlab train --data FILE --tokenizer DIR --out DIR [options]\n"
    "       layerlab train --compare RUN_DIR... --out PREFIX\n"
    "model:   --blocks preln|parallel|sas|sasp (preln)  --norm ln|none (ln; none: sas/sasp only)\n"
    "         --layers 6 --width 256 --heads 4 --ff 0 (4*width) --context 128 --beta-ff 0.1\n"
    "data:    --data FILE (.jsonl with 'text', or plain text)  --val FILE  --tokenizer DIR\n"
    "         --eval-every 100 --eval-batches 8\n"
    "optim:   --steps 1000 --batch 8 --lr 1e-3 --min-lr-ratio 0.1 --warmup 5% of steps\n"
    "         --weight-decay 0.1 --decay-embeddings --beta1 0.9 --beta2 0.999 --clip 1.0\n"
    "run:     --device cpu|cuda|cuda:N (cpu)  --dtype f32|tf32 (f32; tf32: cuda only)\n"
    "         --seed 1234 --threads N --checkpoint-every 0 --resume --stop-after N\n"
    "         --save-batches FILE --export-init DIR --quiet\n";

int compare(const Args& args) {
  std::vector<std::string> dirs = args.positional();
  dirs.insert(dirs.begin(), args.get("compare"));
  const std::string prefix = args.get("out", "train-compare");
  train::compare_runs(dirs, prefix);
  std::printf("compared %zu runs; wrote %s.svg, %s.md, %s.json\n", dirs.size(), prefix.c_str(), prefix.c_str(),
              prefix.c_str());
  return 0;
}

int to_int(const Args& args, const char* name, long fallback) {
  const long v = args.get_int(name, fallback);
  if (v < INT32_MIN || v > INT32_MAX) fail(std::string("--") + name, "out of range");
  return static_cast<int>(v);
}

}  // namespace

int cmd_train(const Argv& argv) {
  Args args(argv,
            {"blocks", "norm", "layers", "width", "heads", "ff", "context", "beta-ff", "data", "val", "tokenizer",
             "eval-every", "eval-batches", "steps", "batch", "lr", "min-lr-ratio", "warmup", "weight-decay", "beta1",
             "beta2", "clip", "seed", "threads", "checkpoint-every", "stop-after", "save-batches", "export-init", "out",
             "compare", "device", "dtype"},
            {"resume", "decay-embeddings", "quiet", "help"});
  if (args.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args.has("compare")) return compare(args);
  if (!args.positional().empty()) fail("train", "unexpected argument '" + args.positional()[0] + "'\n" + kUsage);

  train::TrainOptions o;
  train::ModelShape& s = o.shape;
  s.block = train::parse_block(args.get("blocks", "preln"));
  const std::string norm = args.get("norm", "ln");
  if (norm != "ln" && norm != "none") fail("--norm", "expected ln or none, got '" + norm + "'");
  s.norm = norm == "ln";
  s.n_layer = to_int(args, "layers", 6);
  s.d_model = to_int(args, "width", 256);
  s.n_head = to_int(args, "heads", 4);
  s.d_ff = to_int(args, "ff", 0);
  s.context = to_int(args, "context", 128);
  s.beta_ff_init = static_cast<float>(args.get_double("beta-ff", 0.1));
  s.validate("train");

  o.data = args.require("data");
  o.val = args.get("val");
  o.tokenizer_dir = args.require("tokenizer");
  o.out = args.require("out");
  o.steps = to_int(args, "steps", 1000);
  o.batch = to_int(args, "batch", 8);
  o.eval_every = to_int(args, "eval-every", 100);
  o.eval_batches = to_int(args, "eval-batches", 8);
  o.checkpoint_every = to_int(args, "checkpoint-every", 0);
  o.stop_after = to_int(args, "stop-after", 0);
  o.seed = static_cast<uint64_t>(args.get_int("seed", 1234));
  o.resume = args.has("resume");
  o.save_batches = args.get("save-batches");
  o.export_init = args.get("export-init");
  o.quiet = args.has("quiet");
  o.device = args.get("device", "cpu");
  o.dtype = args.get("dtype", "f32");
  train::OptimConfig& c = o.optim;
  c.lr = args.get_double("lr", 1e-3);
  c.min_lr_ratio = args.get_double("min-lr-ratio", 0.1);
  c.warmup = to_int(args, "warmup", o.steps / 20);
  c.weight_decay = args.get_double("weight-decay", 0.1);
  c.beta1 = args.get_double("beta1", 0.9);
  c.beta2 = args.get_double("beta2", 0.999);
  c.clip = args.get_double("clip", 1.0);
  c.decay_embeddings = args.has("decay-embeddings");
  if (c.warmup < 0) fail("--warmup", "must be >= 0");
  if (c.min_lr_ratio < 0 || c.min_lr_ratio > 1) fail("--min-lr-ratio", "must be in [0, 1]");
  if (args.has("threads")) {
    const int t = to_int(args, "threads", 1);
    if (t <= 0) fail("--threads", "must be positive");
    omp_set_num_threads(t);
    openblas_set_num_threads(t);
  }

  const train::TrainSummary r = train::run_training(o);
  std::printf("%s: %d steps, %lld tokens in %.1f s (%.0f tokens/s), %lld parameters; final loss %.4f", o.out.c_str(),
              r.steps, static_cast<long long>(r.tokens), r.seconds, r.tokens_per_second,
              static_cast<long long>(r.parameters), r.final_train_loss);
  if (r.final_val_loss >= 0) std::printf(", validation loss %.4f", r.final_val_loss);
  std::printf("\n");
  return 0;
}

}  // namespace layerlab::cli
