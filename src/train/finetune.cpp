// `layerlab finetune`: a GLUE task, a BERT folder and a plan in; a fine-tuned head, per-epoch dev
// metrics, results.json and an exact-resume checkpoint out. The training loop is written against
// an engine (what computes a batch's loss and gradients and the dev predictions), so head-only
// and full fine-tuning share the schedule, optimizer, evaluation and files.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "layerlab/backend.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/progress.h"
#include "layerlab/runner.h"
#include "layerlab/safetensors.h"
#include "layerlab/tokenizer.h"
#include "model/checkpoint.h"
#include "train/finetune_engine.h"
#include "util/json_read.h"

namespace layerlab::finetune {

using nlohmann::json;

namespace {

// The epoch's example order: a Fisher-Yates shuffle from a generator seeded by (seed, epoch),
// so a resumed run draws the same batches without saving generator state.
std::vector<size_t> epoch_order(size_t n, uint64_t seed, int epoch) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + uint64_t(epoch) + 1);
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  return order;
}

std::vector<glue::MetricValue> dev_metrics(Engine& e, const glue::TaskSpec& task, const std::vector<glue::Example>& dev) {
  const std::vector<float> z = e.dev_logits();
  const int L = task.num_labels;
  std::vector<int> cls(dev.size());
  std::vector<double> score(dev.size());
  for (size_t i = 0; i < dev.size(); ++i) {
    const float* r = z.data() + i * L;
    cls[i] = int(std::max_element(r, r + L) - r);  // first maximum, as torch.argmax
    score[i] = r[0];
  }
  return glue::evaluate(task, cls, score, dev);
}

json metrics_json(const std::vector<glue::MetricValue>& m) {
  json j = json::object();
  for (const auto& v : m) j[v.name] = v.value;
  return j;
}

// One step's inputs and outcome for the PyTorch replay (bench/glue/torch_reference.py).
json record_step(int64_t step, double lr, double loss, const std::vector<size_t>& idx,
                 const std::vector<glue::Encoded>& in, const std::vector<int>& labels, const std::vector<double>& targets) {
  json ex = json::array();
  for (size_t i : idx)
    ex.push_back({{"index", i}, {"ids", in[i].ids}, {"types", in[i].types}, {"label", labels[i]}, {"target", targets[i]}});
  return {{"step", step + 1}, {"lr", lr}, {"loss", loss}, {"examples", ex}};
}

// The plan as [[layers], iterations] per step, for the replay.
json plan_json(const Plan& p) {
  json out = json::array();
  for (const PlanStep& s : p.steps) out.push_back({{"layers", s.layers}, {"iterations", s.iterations}});
  return out;
}

struct Resume {
  int epoch = 0;  // epochs already done
  int64_t step = 0;
};

const char* kCheckpoint = "checkpoint.safetensors";

void save_checkpoint(const std::string& dir, Engine& e, const train::AdamW& adam, int epoch, int64_t step, int total) {
  auto& a = const_cast<train::AdamW&>(adam);
  const int64_t n = int64_t(e.params().size());
  write_safetensors(dir + "/" + kCheckpoint,
                    {{"params", {n}, e.params()}, {"adam.m", {n}, a.m()}, {"adam.v", {n}, a.v()}},
                    {{"epoch", std::to_string(epoch)}, {"step", std::to_string(step)}, {"layout", e.layout_name()},
                     {"total_steps", std::to_string(total)}});
}

Resume load_checkpoint(const std::string& dir, Engine& e, train::AdamW& adam, int total) {
  const std::string path = dir + "/" + kCheckpoint;
  SafetensorsFile f(path);
  const auto meta = [&](const std::string& k) {
    const auto it = f.metadata().find(k);
    if (it == f.metadata().end()) fail(path, "metadata '" + k + "' missing");
    return it->second;
  };
  if (meta("layout") != e.layout_name())
    fail(path, "was written for a different model or head (" + clip(meta("layout")) + "); this run is " + e.layout_name());
  if (meta("total_steps") != std::to_string(total))
    fail(path, "was written by a run of " + clip(meta("total_steps")) + " steps; this one has " + std::to_string(total) +
                   " (resume with the same --epochs, --batch and data)");
  const size_t n = e.params().size();
  for (const char* name : {"params", "adam.m", "adam.v"})
    if (f.get(name).numel() != int64_t(n)) fail(path, std::string("tensor '") + name + "' has the wrong size");
  e.params() = f.read_f32("params");
  adam.m() = f.read_f32("adam.m");
  adam.v() = f.read_f32("adam.v");
  Resume r;
  try {
    r.epoch = std::stoi(meta("epoch"));
    r.step = std::stoll(meta("step"));
  } catch (const std::exception&) {
    fail(path, "metadata 'epoch' / 'step' are not integers");
  }
  if (r.epoch < 0 || r.step < 0) fail(path, "negative epoch or step");
  adam.set_steps(r.step);
  return r;
}

}  // namespace

json run(const Options& o) {
  const glue::TaskSpec& task = glue::task_spec(o.task);
  if (o.epochs < 1 || o.batch < 1) fail("finetune", "--epochs and --batch must be at least 1");
  if (!is_directory(o.out_dir)) fail_option("out", "'" + o.out_dir + "' is not a folder");
  auto model = load_model(o.model_dir);
  if (model->config().family != "bert") fail(o.model_dir, "finetune needs a BERT model, this is " + model->config().family);
  validate_plan(o.plan, model->config().n_layer);
  auto tok = load_tokenizer(o.model_dir);
  if (o.max_length > model->config().max_positions)
    fail_option("max_length", std::to_string(o.max_length) + " exceeds the model's " +
                             std::to_string(model->config().max_positions) + " positions");
  const glue::Encoder enc(*tok, o.max_length);
  const std::vector<glue::Example> train_set = glue::read_split(o.data_dir, task, "train", o.limit_train);
  const std::vector<glue::Example> dev = glue::read_split(o.data_dir, task, "validation", o.limit_dev);
  std::vector<glue::Encoded> train_in, dev_in;
  for (const auto& e : train_set) train_in.push_back(enc.encode(task, e));
  for (const auto& e : dev) dev_in.push_back(enc.encode(task, e));

  auto backend = make_cpu_backend(*model);
  Runner runner(*model, *backend);
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<Engine> engine = o.head_only ? make_head_only_engine(runner, o, task, train_in, dev_in)
                                               : make_full_engine(runner, o, task, train_in, dev_in);
  const double feature_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_safetensors(o.out_dir + "/head_init.safetensors", engine->head_tensors(), {{"task", task.name}});

  const int64_t steps_per_epoch = (int64_t(train_set.size()) + o.batch - 1) / o.batch;
  const int total = int(steps_per_epoch * o.epochs);
  const int warmup = int(std::ceil(o.warmup_ratio * total));
  train::OptimConfig oc;
  oc.lr = o.lr;
  oc.weight_decay = o.weight_decay;
  oc.clip = o.clip;
  train::AdamW adam(engine->layout(), oc);
  Resume at;
  if (o.resume && file_exists(o.out_dir + "/" + kCheckpoint)) at = load_checkpoint(o.out_dir, *engine, adam, total);

  std::vector<int> labels(train_set.size());
  std::vector<double> targets(train_set.size());
  for (size_t i = 0; i < train_set.size(); ++i) labels[i] = train_set[i].label, targets[i] = train_set[i].score;

  json result = {{"task", task.name},         {"model", o.model_dir},   {"plan", plan_to_text(o.plan)},
                 {"head_only", o.head_only},  {"epochs", o.epochs},     {"lr", o.lr},
                 {"batch", o.batch},          {"max_length", o.max_length}, {"seed", o.seed},
                 {"warmup_steps", warmup},    {"total_steps", total},   {"train_examples", train_set.size()},
                 {"dev_examples", dev.size()}, {"pooler", engine->pooler_note()}, {"feature_seconds", feature_s},
                 {"history", json::array()}};
  const std::string results_path = o.out_dir + "/results.json";
  if (at.epoch > 0 && file_exists(results_path)) result["history"] = read_json_file(results_path).value("history", json::array());

  int64_t step = at.step;
  json recorded = json::array();
  for (int epoch = at.epoch; epoch < o.epochs; ++epoch) {
    const auto e0 = std::chrono::steady_clock::now();
    const std::vector<size_t> order = epoch_order(train_set.size(), o.seed, epoch);
    Progress bar("finetune " + task.name + " epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs),
                 int64_t(order.size()), "examples");
    double loss_sum = 0;
    int64_t tokens = 0;
    for (int64_t s = 0; s < steps_per_epoch; ++s, ++step) {
      const size_t b0 = size_t(s) * o.batch, b1 = std::min(order.size(), b0 + o.batch);
      const std::vector<size_t> idx(order.begin() + b0, order.begin() + b1);
      const double loss = engine->batch_loss(idx, labels, targets);
      train::clip_grad_norm(engine->grads(), o.clip);
      const double lr = linear_schedule(o.lr, int(step), warmup, total);
      adam.step(engine->params(), engine->grads(), lr);
      if (step < o.record_steps) {
        recorded.push_back(record_step(step, lr, loss, idx, train_in, labels, targets));
        if (int64_t(recorded.size()) == o.record_steps || step + 1 == total)
          write_file_atomic(o.out_dir + "/first_steps.json", json{{"task", task.name}, {"head_only", o.head_only},
                                                                   {"clip", o.clip}, {"weight_decay", o.weight_decay},
                                                                   {"plan", plan_json(o.plan)},
                                                                   {"steps", recorded}}.dump() + "\n");
      }
      loss_sum += loss;
      for (size_t i : idx) tokens += int64_t(train_in[i].ids.size());
      if (o.log_every > 0 && (step + 1) % o.log_every == 0)
        std::printf("step %lld loss %.9f\n", static_cast<long long>(step + 1), loss);
      bar.add(int64_t(idx.size()));
    }
    bar.finish();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - e0).count();
    const auto m = dev_metrics(*engine, task, dev);
    result["history"].push_back({{"epoch", epoch + 1},
                                 {"train_loss", loss_sum / double(steps_per_epoch)},
                                 {"dev", metrics_json(m)},
                                 {"task_score", glue::task_score(m)},
                                 {"seconds", secs},
                                 {"train_tokens_per_s", secs > 0 ? double(tokens) / secs : 0.0}});
    std::fprintf(stderr, "epoch %d: train loss %.4f, dev %s, score %.4f\n", epoch + 1, loss_sum / double(steps_per_epoch),
                 metrics_json(m).dump().c_str(), glue::task_score(m));
    result["dev"] = metrics_json(m);
    result["task_score"] = glue::task_score(m);
    save_checkpoint(o.out_dir, *engine, adam, epoch + 1, step, total);
    write_file_atomic(results_path, result.dump(2) + "\n");
    if (o.stop_after > 0 && epoch + 1 >= o.stop_after && epoch + 1 < o.epochs) break;
  }
  if (at.epoch >= o.epochs && file_exists(results_path)) return read_json_file(results_path);
  return result;
}

}  // namespace layerlab::finetune
