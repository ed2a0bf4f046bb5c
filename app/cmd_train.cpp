// layerlab train --blocks sasp --layers 18 --width 768 --heads 12 --context 128 --tokenizer DIR [--device cuda]
//                --data FILE [--val FILE] --steps N --batch B --lr LR --out DIR [...]
// layerlab train --compare RUN1 RUN2 ... --out PREFIX
// Trains a GPT-style model from scratch (docs/TRAINING.md), or compares finished runs.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "layerlab/error.h"
#include "layerlab/pretrain.h"
#include "layerlab/train.h"

namespace layerlab::cli {

namespace {

int compare(const std::vector<std::string>& dirs, const std::string& prefix) {
  train::compare_runs(dirs, prefix);
  std::printf("compared %zu runs; wrote %s.svg, %s.md, %s.json\n", dirs.size(), prefix.c_str(), prefix.c_str(),
              prefix.c_str());
  return 0;
}

// --objective mlm: a BERT-shaped encoder, masked-LM loss, a BertForMaskedLM folder out.
int train_mlm(const Options& a, const train::TrainOptions& o, int threads, double mask_rate) {
  static const std::vector<std::string> allowed = {
      "--objective", "--layers", "--width", "--heads", "--ff", "--context", "--data", "--tokenizer", "--steps",
      "--batch", "--lr", "--warmup", "--weight-decay", "--clip", "--seed", "--threads", "--out", "--mask-rate", "--quiet"};
  for (const std::string& g : a.given_names())
    if (std::find(allowed.begin(), allowed.end(), g) == allowed.end())
      fail(g, "does not apply to --objective mlm (a post-LN BERT encoder on the CPU, docs/GLUE.md)");
  finetune::MlmOptions m;
  m.n_layer = o.shape.n_layer;
  m.d_model = o.shape.d_model;
  m.n_head = o.shape.n_head;
  m.d_ff = o.shape.d_ff;
  m.context = o.shape.context;
  m.data = o.data;
  m.tokenizer_dir = o.tokenizer_dir;
  m.out_dir = o.out;
  m.steps = o.steps;
  m.batch = o.batch;
  m.lr = o.optim.lr;
  m.warmup = a.given("--warmup") ? o.optim.warmup : -1;
  m.weight_decay = a.given("--weight-decay") ? o.optim.weight_decay : 0.01;  // BERT's
  m.clip = o.optim.clip;
  m.seed = o.seed;
  m.mask_rate = mask_rate;
  m.log_every = o.quiet ? 0 : std::max(1, o.steps / 20);
  if (m.d_model % m.n_head) fail("--heads", "must divide --width");
  if (threads > 0) {
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
  }
  const auto r = finetune::pretrain_mlm(m);
  std::printf("%s: BertForMaskedLM, %d steps, %lld masked tokens in %.1f s, %lld parameters; loss %.4f -> %.4f\n",
              o.out.c_str(), m.steps, static_cast<long long>(r["masked_tokens"].get<int64_t>()), r["seconds"].get<double>(),
              static_cast<long long>(r["params"].get<int64_t>()), r["losses"].front().get<double>(),
              r["losses"].back().get<double>());
  return 0;
}

}  // namespace

int cmd_train(const Argv& argv) {
  Options a("train", "train a GPT-style model from scratch with Pre-LN, parallel, SAS or SAS-P blocks "
                     "(docs/TRAINING.md), or compare finished runs",
            "--data FILE --tokenizer DIR --out DIR [options]\n"
            "       layerlab train --compare RUN_DIR RUN_DIR... [--out PREFIX]");
  train::TrainOptions o;
  train::ModelShape& s = o.shape;
  train::OptimConfig& c = o.optim;
  s.n_layer = 6;
  s.d_model = 256;
  std::string blocks = "preln", norm = "ln", compare_first;
  std::vector<std::string> compare_rest;
  double beta_ff = s.beta_ff_init;
  int threads = 0;
  c.warmup = -1;  // not given: 5% of --steps
  // model
  a.text("--blocks", blocks, "BLOCK", "block design: preln, parallel, sas or sasp");
  a.text("--norm", norm, "NORM", "norms inside blocks: ln, or none (sas / sasp only)");
  a.integer("--layers", s.n_layer, "transformer blocks", 1, 1024);
  a.integer("--width", s.d_model, "model width (d_model)", 1, 1 << 16);
  a.integer("--heads", s.n_head, "attention heads (must divide --width)", 1, 1 << 12);
  a.integer("--ff", s.d_ff, "MLP width", 0, 1 << 20, "4 x --width");
  a.integer("--context", s.context, "tokens per training window", 2, 1 << 20);
  a.number("--beta-ff", beta_ff, "sas / sasp: initial gain of the MLP branch", -HUGE_VAL, HUGE_VAL);
  // data
  a.text("--data", o.data, "FILE", "training text: .jsonl with 'text', or plain text", "none; required to train");
  a.text("--val", o.val, "FILE", "validation text (same forms)", "none: no validation");
  a.text("--tokenizer", o.tokenizer_dir, "DIR", "folder whose tokenizer encodes the data (e.g. a GPT-2 model)",
         "none; required to train");
  a.integer("--eval-every", o.eval_every, "validate every K steps (and at the end)", 1, INT32_MAX);
  a.integer("--eval-batches", o.eval_batches, "validation windows = K x --batch", 1, INT32_MAX);
  // optimisation
  a.integer("--steps", o.steps, "optimizer steps", 1, INT32_MAX);
  a.integer("--batch", o.batch, "windows per step", 1, INT32_MAX);
  a.number("--lr", c.lr, "peak learning rate (AdamW)", 0, 10);
  a.number("--min-lr-ratio", c.min_lr_ratio, "the cosine schedule ends at lr x this", 0, 1);
  a.integer("--warmup", c.warmup, "linear warm-up steps", 0, INT32_MAX, "5% of --steps");
  a.number("--weight-decay", c.weight_decay, "decoupled weight decay on weight matrices", 0, 10);
  a.flag("--decay-embeddings", c.decay_embeddings, "apply weight decay to the embeddings too");
  a.number("--beta1", c.beta1, "AdamW beta1", 0, 1);
  a.number("--beta2", c.beta2, "AdamW beta2", 0, 1);
  a.number("--clip", c.clip, "largest global gradient norm; 0 = no clipping", 0, HUGE_VAL);
  // run
  a.text("--device", o.device, "DEVICE", "where training runs: cpu, cuda or cuda:N (docs/CUDA.md)");
  a.text("--dtype", o.dtype, "DTYPE", "products in f32, or tf32 (tensor cores; cuda only)");
  a.seed("--seed", o.seed, "initialisation and data order");
  a.integer("--threads", threads, "CPU threads (OpenMP and OpenBLAS)", 1, 4096, "every core");
  a.integer("--checkpoint-every", o.checkpoint_every, "write a checkpoint every K steps; 0 = only at the end", 0,
            INT32_MAX);
  a.flag("--resume", o.resume, "continue from OUT/checkpoint");
  a.integer("--stop-after", o.stop_after, "stop (with a checkpoint) after this step, keeping the schedule of --steps; "
                                          "0 = run every step", 0, INT32_MAX);
  a.text("--save-batches", o.save_batches, "FILE", "write every step's batch here (int32 [steps, batch, context+1])",
         "not written");
  a.text("--export-init", o.export_init, "DIR", "write the initial weights here", "not written");
  a.text("--out", o.out, "DIR", "the run folder (with --compare: the output prefix, default train-compare)",
         "none; required to train");
  a.flag("--quiet", o.quiet, "no progress lines");
  std::string objective = "causal";
  double mask_rate = 0.15;
  a.text("--objective", objective, "OBJ", "causal (a GPT-style decoder) or mlm (a BERT encoder, masked-LM; exported "
                                          "as a Hugging Face BertForMaskedLM folder)");
  a.number("--mask-rate", mask_rate, "--objective mlm: share of tokens chosen (80% [MASK], 10% random, 10% kept)", 0, 1);
  a.text("--compare", compare_first, "RUN_DIR", "compare finished runs (this one and the arguments): loss curves "
                                                "as SVG, a Markdown table and JSON", "none");
  a.positional("runs", compare_rest, "with --compare: more run folders");
  if (!a.parse(argv)) return 0;
  if (a.given("--compare")) {
    for (const std::string& g : a.given_names())
      if (g != "--compare" && g != "--out" && g != "runs")
        fail(g, "does not apply to --compare (it only reads finished runs)");
    compare_rest.insert(compare_rest.begin(), compare_first);
    return compare(compare_rest, a.given("--out") ? o.out : "train-compare");
  }
  if (!compare_rest.empty()) fail("'" + compare_rest[0] + "'", "unexpected argument (run folders go with --compare)");
  for (const char* f : {"--data", "--tokenizer", "--out"})
    if (!a.given(f)) fail(f, "required option is missing");
  if (objective != "causal" && objective != "mlm") fail("--objective", "expected causal or mlm, got '" + objective + "'");
  if (a.given("--mask-rate") && objective != "mlm") fail("--mask-rate", "applies to --objective mlm only");
  if (objective == "mlm") return train_mlm(a, o, threads, mask_rate);

  s.block = parse_trained_block(blocks, "--blocks");
  if (norm != "ln" && norm != "none") fail("--norm", "expected ln or none, got '" + norm + "'");
  s.norm = norm == "ln";
  if (!s.norm && !s.shaped())
    fail("--norm", std::string("none needs a skipless block (sas or sasp); ") + block_kind_name(s.block) +
                       " keeps its normalisation (the paper removes norms only from SAS/SAS-P)");
  s.beta_ff_init = static_cast<float>(beta_ff);
  if (a.given("--beta-ff") && !s.shaped()) fail("--beta-ff", "applies to sas and sasp blocks only");
  s.validate("train");
  if (c.warmup < 0) c.warmup = o.steps / 20;
  if (threads > 0) {
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
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
