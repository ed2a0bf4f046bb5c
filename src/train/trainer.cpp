// The training loop: random windows, AdamW with warm-up + cosine, clipping, validation,
// logs (CSV + JSON), checkpoints that resume bit-for-bit, and the final export. The step's
// arithmetic runs in an Engine (engine.h: the CPU, or a CUDA GPU).
#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <cstdio>
#include <random>
#include <sstream>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/safetensors.h"
#include "layerlab/tokenizer.h"
#include "layerlab/train.h"
#include "train/engine.h"
#include "util/json_depth.h"

namespace layerlab::train {

namespace {

using Clock = std::chrono::steady_clock;

struct Row {
  int step = 0;  // 1-based: the step that was just taken
  int64_t tokens = 0;
  double loss = 0, lr = 0, grad_norm = 0, seconds = 0;
  double val_loss = -1;  // < 0: not evaluated at this step
};

nlohmann::json row_json(const Row& r) {
  nlohmann::json j = {{"step", r.step},           {"tokens", r.tokens}, {"loss", r.loss},
                      {"lr", r.lr},               {"grad_norm", r.grad_norm},
                      {"seconds", r.seconds}};
  if (r.val_loss >= 0) j["val_loss"] = r.val_loss;
  return j;
}

Row row_from_json(const nlohmann::json& j) {
  Row r;
  r.step = j.at("step");
  r.tokens = j.at("tokens");
  r.loss = j.at("loss");
  r.lr = j.at("lr");
  r.grad_norm = j.at("grad_norm");
  r.seconds = j.at("seconds");
  if (j.contains("val_loss")) r.val_loss = j["val_loss"];
  return r;
}

// The run folder with its parents (`--out runs/sasp` in a fresh checkout), as mkdir -p.
void make_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!is_directory(dir)) fail(dir, "cannot create the run directory" + (ec ? ": " + ec.message() : std::string()));
}

TrainSummary train_into(const TrainOptions& o);

nlohmann::json optim_json(const OptimConfig& c) {
  return {{"lr", c.lr},       {"min_lr_ratio", c.min_lr_ratio}, {"warmup", c.warmup},
          {"beta1", c.beta1}, {"beta2", c.beta2},               {"eps", c.eps},
          {"weight_decay", c.weight_decay}, {"decay_embeddings", c.decay_embeddings}, {"clip", c.clip}};
}

// What must be equal for a resumed run to continue the same experiment.
nlohmann::json run_identity(const TrainOptions& o, const TokenStream& data) {
  return {{"shape", o.shape.to_json()}, {"optim", optim_json(o.optim)}, {"steps", o.steps},
          {"batch", o.batch},           {"seed", o.seed},               {"data", o.data},
          {"data_tokens", data.tokens.size()}};
}

// Samples windows of context + 1 tokens uniformly from the stream.
class Sampler {
 public:
  Sampler(const std::vector<int32_t>& tokens, int len, uint64_t seed) : tokens_(tokens), len_(len), rng_(seed) {}
  void next(int batch, std::vector<int32_t>& window) {
    const uint64_t range = tokens_.size() - (len_ + 1) + 1;
    window.resize(size_t(batch) * (len_ + 1));
    for (int b = 0; b < batch; ++b) {
      const uint64_t start = rng_() % range;
      std::copy(tokens_.begin() + start, tokens_.begin() + start + len_ + 1, window.begin() + size_t(b) * (len_ + 1));
    }
  }
  std::string state() const {
    std::ostringstream s;
    s << rng_;
    return s.str();
  }
  void set_state(const std::string& st) {
    std::istringstream s(st);
    s >> rng_;
    if (!s) fail("checkpoint", "bad sampler state");
  }

 private:
  const std::vector<int32_t>& tokens_;
  int len_;
  std::mt19937_64 rng_;
};

void split_window(const std::vector<int32_t>& w, int batch, int len, std::vector<int32_t>& in,
                  std::vector<int32_t>& tgt) {
  in.resize(size_t(batch) * len);
  tgt.resize(size_t(batch) * len);
  for (int b = 0; b < batch; ++b)
    for (int t = 0; t < len; ++t) {
      in[size_t(b) * len + t] = w[size_t(b) * (len + 1) + t];
      tgt[size_t(b) * len + t] = w[size_t(b) * (len + 1) + t + 1];
    }
}

// Mean loss over fixed, non-overlapping windows from the start of the validation stream.
double validation_loss(Engine& m, int len, const std::vector<int32_t>& val, int batch, int windows_max) {
  const int64_t avail = int64_t(val.size() - 1) / len;
  const int windows = int(std::min<int64_t>(avail, windows_max));
  double sum = 0;
  int done = 0;
  std::vector<int32_t> in, tgt;
  while (done < windows) {
    const int b = std::min(batch, windows - done);
    in.resize(size_t(b) * len);
    tgt.resize(size_t(b) * len);
    for (int i = 0; i < b; ++i)
      for (int t = 0; t < len; ++t) {
        const size_t pos = size_t(done + i) * len + t;
        in[size_t(i) * len + t] = val[pos];
        tgt[size_t(i) * len + t] = val[pos + 1];
      }
    sum += m.forward(in.data(), tgt.data(), b, len) * b;
    done += b;
  }
  return sum / windows;
}

std::string format_duration(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
  return buf;
}

class Bar {
 public:
  Bar(int total, bool quiet) : total_(total), quiet_(quiet), tty_(::isatty(2)) {}
  void update(const Row& r, double tok_s, bool force) {
    if (quiet_) return;
    const auto now = Clock::now();
    if (!force && tty_ && now - last_ < std::chrono::milliseconds(100)) return;
    if (!tty_ && !force) return;
    last_ = now;
    const int width = 24, filled = int(double(r.step) / total_ * width);
    const double eta = tok_s > 0 ? double(total_ - r.step) * (double(r.tokens) / std::max(1, r.step)) / tok_s : 0;
    std::string bar(filled, '#');
    bar += std::string(width - filled, '.');
    std::fprintf(stderr, "%strain [%s] %d/%d  loss %.4f%s  %.0f tok/s  lr %.2e  eta %s%s", tty_ ? "\r" : "",
                 bar.c_str(), r.step, total_, r.loss,
                 r.val_loss >= 0 ? (std::string("  val ") + std::to_string(r.val_loss).substr(0, 6)).c_str() : "",
                 tok_s, r.lr, format_duration(eta).c_str(), tty_ ? "\x1b[K" : "\n");
    std::fflush(stderr);
  }
  void done() {
    if (!quiet_ && tty_) std::fprintf(stderr, "\n");
  }

 private:
  int total_;
  bool quiet_, tty_;
  Clock::time_point last_{};
};

void write_logs(const std::string& out, const std::vector<Row>& rows, const nlohmann::json& meta) {
  std::string csv = "step,tokens,loss,val_loss,lr,grad_norm,seconds\n";
  nlohmann::json jrows = nlohmann::json::array();
  char buf[256];
  for (const Row& r : rows) {
    std::snprintf(buf, sizeof buf, "%d,%lld,%.6f,%s,%.6e,%.6f,%.3f\n", r.step, (long long)r.tokens, r.loss,
                  r.val_loss >= 0 ? std::to_string(r.val_loss).c_str() : "", r.lr, r.grad_norm, r.seconds);
    csv += buf;
    jrows.push_back(row_json(r));
  }
  write_file_atomic(out + "/log.csv", csv);
  nlohmann::json j = meta;
  j["rows"] = jrows;
  write_file_atomic(out + "/log.json", j.dump(1) + "\n");
}

struct Checkpoint {
  int step = 0;
  std::string sampler;
  std::vector<Row> rows;
  double train_seconds = 0;
};

void save_checkpoint(const std::string& out, Transformer<float>& m, AdamW& opt, const Checkpoint& ck,
                     const nlohmann::json& identity) {
  const std::string dir = out + "/checkpoint";
  make_dir(dir);
  const std::string file = "state-" + std::to_string(ck.step) + ".safetensors";
  const int64_t n = static_cast<int64_t>(m.params().size());
  std::vector<OutTensor> t(3);
  t[0] = {"params", {n}, m.params(), {}, DType::F32};
  t[1] = {"adam_m", {n}, opt.m(), {}, DType::F32};
  t[2] = {"adam_v", {n}, opt.v(), {}, DType::F32};
  write_safetensors(dir + "/" + file, t);
  nlohmann::json rows = nlohmann::json::array();
  for (const Row& r : ck.rows) rows.push_back(row_json(r));
  nlohmann::json st = {{"step", ck.step},          {"adam_steps", opt.steps()}, {"sampler", ck.sampler},
                       {"tensors", file},          {"identity", identity},      {"rows", rows},
                       {"train_seconds", ck.train_seconds}};
  std::string previous;
  if (file_exists(dir + "/state.json")) {
    try {
      previous = nlohmann::json::parse(depth_checked(read_text_file(dir + "/state.json"), dir + "/state.json")).value("tensors", "");
    } catch (...) {
    }
  }
  write_file_atomic(dir + "/state.json", st.dump(1) + "\n");
  if (!previous.empty() && previous != file) std::remove((dir + "/" + previous).c_str());
}

Checkpoint load_checkpoint(const std::string& out, Transformer<float>& m, AdamW& opt, const nlohmann::json& identity) {
  const std::string dir = out + "/checkpoint", path = dir + "/state.json";
  if (!file_exists(path)) fail(path, "no checkpoint to resume from");
  nlohmann::json st;
  try {
    st = nlohmann::json::parse(depth_checked(read_text_file(path), path));
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("not valid JSON: ") + e.what());
  }
  Checkpoint ck;
  try {
    for (auto it = identity.begin(); it != identity.end(); ++it)
      if (st.at("identity").at(it.key()) != it.value())
        fail(path, "field '" + it.key() + "' differs from this run: checkpoint has " +
                       st["identity"][it.key()].dump() + ", now " + it.value().dump());
    ck.step = st.at("step");
    ck.sampler = st.at("sampler");
    ck.train_seconds = st.value("train_seconds", 0.0);
    for (const auto& r : st.at("rows")) ck.rows.push_back(row_from_json(r));
    opt.set_steps(st.at("adam_steps").get<int64_t>());
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("bad checkpoint state: ") + e.what());
  }
  SafetensorsFile f(dir + "/" + st["tensors"].get<std::string>());
  auto load = [&](const char* name, std::vector<float>& dst) {
    std::vector<float> v = f.read_f32(name);
    if (v.size() != dst.size())
      fail(f.path(), std::string("tensor '") + name + "' has " + std::to_string(v.size()) + " values, model needs " +
                         std::to_string(dst.size()));
    dst = std::move(v);
  };
  load("params", m.params());
  load("adam_m", opt.m());
  load("adam_v", opt.v());
  return ck;
}

}  // namespace


// A run that fails before it writes anything (bad data, bad tokenizer) leaves no empty run
// folder behind; one with logs or a checkpoint keeps them, for a resume.
TrainSummary run_training(const TrainOptions& o) {
  const bool fresh = !o.out.empty() && !std::filesystem::exists(o.out);
  try {
    return train_into(o);
  } catch (...) {
    std::error_code ec;
    if (fresh && std::filesystem::is_directory(o.out, ec) && std::filesystem::is_empty(o.out, ec))
      std::filesystem::remove(o.out, ec);
    throw;
  }
}

namespace {

TrainSummary train_into(const TrainOptions& o) {
  if (o.out.empty()) fail_option("out", "missing run directory");
  if (o.steps <= 0) fail_option("steps", "must be positive");
  if (o.batch <= 0) fail_option("batch", "must be positive");
  if (o.eval_every <= 0) fail_option("eval_every", "must be positive");
  if (!(o.optim.lr > 0)) fail_option("lr", "must be positive");
  const TrainDevice device = parse_train_device(o.device, o.dtype);
  make_dir(o.out);

  const auto tok = load_tokenizer(o.tokenizer_dir);
  ModelShape shape = o.shape;
  shape.vocab = tok->vocab_size();
  shape.validate("model");
  const int len = shape.context;

  if (!o.quiet) std::fprintf(stderr, "tokenizing %s ...\n", o.data.c_str());
  TokenStream data = load_token_stream(o.data, o.tokenizer_dir);
  if (data.tokens.size() < size_t(len) + 1)
    fail(o.data, "only " + std::to_string(data.tokens.size()) + " tokens; a window needs " + std::to_string(len + 1));
  TokenStream val;
  if (!o.val.empty()) {
    val = load_token_stream(o.val, o.tokenizer_dir);
    if (val.tokens.size() < size_t(len) + 1) fail(o.val, "fewer tokens than one validation window");
  }
  TrainOptions opts = o;
  opts.shape = shape;

  Transformer<float> model(shape);
  model.init(o.seed);
  AdamW opt(model.layout(), o.optim);
  Sampler sampler(data.tokens, len, o.seed ^ 0x9E3779B97F4A7C15ULL);
  const nlohmann::json identity = run_identity(opts, data);
  const int64_t n_params = parameter_count(model.layout());
  nlohmann::json meta = {{"block", block_kind_name(shape.block)}, {"norm", shape.norm}, {"shape", shape.to_json()},
                         {"optim", optim_json(o.optim)},     {"batch", o.batch},   {"steps", o.steps},
                         {"parameters", n_params},           {"data", o.data},     {"data_tokens", data.tokens.size()},
                         {"val", o.val},                     {"val_tokens", val.tokens.size()},
                         {"threads", omp_get_max_threads()}, {"seed", o.seed},
                         {"device", device.name()},          {"dtype", device.dtype()}};

  Checkpoint ck;
  if (o.resume) {
    ck = load_checkpoint(o.out, model, opt, identity);
    sampler.set_state(ck.sampler);
    if (!o.quiet) std::fprintf(stderr, "resumed %s at step %d\n", o.out.c_str(), ck.step);
  } else if (!o.export_init.empty()) {
    export_model(model, o.export_init);
  }
  const std::unique_ptr<Engine> engine = make_engine(device, model, opt, o.optim);
  engine->push();
  if (!o.quiet)
    std::fprintf(stderr, "%s%s: %d layers x %d wide, %d heads, context %d, %lld parameters; %zu train tokens%s; on %s (%s)\n",
                 block_kind_name(shape.block), shape.norm ? "" : " (no norm)", shape.n_layer, shape.d_model, shape.n_head,
                 len, (long long)n_params, data.tokens.size(),
                 val.tokens.empty() ? "" : (", " + std::to_string(val.tokens.size()) + " validation tokens").c_str(),
                 device.name().c_str(), device.dtype());

  std::vector<int64_t> saved_batches;
  std::vector<int32_t> window, in, tgt;
  std::vector<Row>& rows = ck.rows;
  const int last = o.stop_after > 0 ? std::min(o.stop_after, o.steps) : o.steps;
  Bar bar(o.steps, o.quiet);
  double train_seconds = ck.train_seconds;
  for (int step = ck.step; step < last; ++step) {
    const auto t0 = Clock::now();
    sampler.next(o.batch, window);
    if (!o.save_batches.empty()) saved_batches.insert(saved_batches.end(), window.begin(), window.end());
    split_window(window, o.batch, len, in, tgt);
    Row r;
    r.step = step + 1;
    r.loss = engine->forward(in.data(), tgt.data(), o.batch, len);
    if (!std::isfinite(r.loss)) fail("train", "loss is " + std::to_string(r.loss) + " at step " + std::to_string(step + 1) + " (try a lower learning rate, lr)");
    engine->backward();
    r.lr = learning_rate(o.optim, step, o.steps);
    r.grad_norm = engine->clip_and_step(r.lr, o.optim.clip);
    train_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    r.tokens = int64_t(step + 1) * o.batch * len;
    r.seconds = train_seconds;
    const bool eval = !val.tokens.empty() && ((step + 1) % o.eval_every == 0 || step + 1 == o.steps);
    if (eval) r.val_loss = validation_loss(*engine, len, val.tokens, o.batch, o.eval_batches * o.batch);
    rows.push_back(r);
    bar.update(r, r.tokens / std::max(1e-9, train_seconds), eval);
    const bool ckpt = step + 1 == last || (o.checkpoint_every > 0 && (step + 1) % o.checkpoint_every == 0);
    if (ckpt || eval) write_logs(o.out, rows, meta);
    if (ckpt) {
      ck.step = step + 1;
      ck.sampler = sampler.state();
      ck.train_seconds = train_seconds;
      engine->pull();  // the device's parameters and moments, for the checkpoint
      save_checkpoint(o.out, model, opt, ck, identity);
    }
  }
  bar.done();
  if (!o.save_batches.empty()) {
    OutTensor t;
    t.name = "batches";
    t.dtype = DType::I64;
    t.shape = {int64_t(saved_batches.size()) / (int64_t(o.batch) * (len + 1)), o.batch, len + 1};
    t.i64 = std::move(saved_batches);
    write_safetensors(o.save_batches, {t});
  }
  write_logs(o.out, rows, meta);
  if (rows.empty()) fail(o.out, "no steps were run (checkpoint already at the last step?)");

  TrainSummary s;
  s.parameters = n_params;
  s.steps = rows.back().step;
  s.tokens = rows.back().tokens;
  s.seconds = train_seconds;
  s.tokens_per_second = s.tokens / std::max(1e-9, s.seconds);
  s.final_train_loss = rows.back().loss;
  for (const Row& r : rows)
    if (r.val_loss >= 0) s.final_val_loss = r.val_loss;
  if (s.steps == o.steps) {
    // No pull: the last step always checkpoints, which pulled the engine's state into `model`
    // (and a run resumed at its end ran no step: `model` is what was pushed).
    export_model(model, o.out + "/model");
    copy_tokenizer_files(o.tokenizer_dir, o.out + "/model");  // so generate / serve / eval take text
  }
  nlohmann::json sj = meta;
  sj.update({{"steps_done", s.steps},
             {"tokens", s.tokens},
             {"seconds", s.seconds},
             {"tokens_per_second", s.tokens_per_second},
             {"final_train_loss", s.final_train_loss},
             {"final_val_loss", s.final_val_loss >= 0 ? nlohmann::json(s.final_val_loss) : nlohmann::json()}});
  write_file_atomic(o.out + "/summary.json", sj.dump(2) + "\n");
  return s;
}

}  // namespace

}  // namespace layerlab::train
