// CUDA training (train_cuda.h) against the CPU Transformer<float> on the same weights and
// batches, for every block type, plus determinism, errors and the training loop end to end.
// Every test skips cleanly when no GPU is visible (CI compiles this and runs nothing).
// Tolerances: loss rel. 1e-5; each parameter tensor's gradient max |cuda - cpu| <= 1e-4 *
// max |cpu| (both float32: the products are summed in different orders, nothing else differs);
// parameters after AdamW steps: see ParamsClose.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "layerlab/cuda_backend.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/train.h"
#include "layerlab/train_cuda.h"

using namespace layerlab;
using namespace layerlab::train;
namespace fs = std::filesystem;

namespace {

#define SKIP_WITHOUT_GPU() \
  if (!cuda_available()) GTEST_SKIP() << "no CUDA GPU visible (or built without CUDA)"

ModelShape small(BlockKind b, bool norm, int width = 64, int heads = 4, int context = 16) {
  ModelShape s;
  s.block = b;
  s.norm = norm;
  s.n_layer = 2;
  s.d_model = width;
  s.n_head = heads;
  s.vocab = 97;
  s.context = context;
  return s;
}

struct Case {
  BlockKind block;
  bool norm;
};
std::string case_name(const Case& c) { return std::string(block_kind_name(c.block)) + (c.norm ? "_ln" : "_nonorm"); }

// Initial weights moved off the special starting point (zero queries, unit gains, identity
// attention) so that every path carries gradient.
void perturb(std::vector<float>& p, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.f, 0.2f);
  for (float& w : p) w += noise(rng);
}

struct Batch {
  std::vector<int32_t> in, tgt;
};
Batch random_batch(std::mt19937_64& rng, int B, int L, int V) {
  Batch b;
  for (int i = 0; i < B * L; ++i) {
    b.in.push_back(int32_t(rng() % V));
    b.tgt.push_back(int32_t(rng() % V));
  }
  return b;
}

void expect_grads_close(const std::vector<TensorSpec>& layout, const std::vector<float>& cpu,
                        const std::vector<float>& gpu, const std::string& what) {
  ASSERT_EQ(cpu.size(), gpu.size());
  double worst = 0;
  std::string worst_name;
  for (const TensorSpec& t : layout) {
    double max_ref = 0, max_diff = 0;
    for (int64_t i = t.offset; i < t.offset + t.numel; ++i) {
      max_ref = std::max(max_ref, double(std::abs(cpu[i])));
      max_diff = std::max(max_diff, double(std::abs(cpu[i] - gpu[i])));
      ASSERT_TRUE(std::isfinite(gpu[i])) << what << " " << t.name << "[" << i - t.offset << "]";
    }
    EXPECT_GT(max_ref, 0.0) << what << ": " << t.name << " has no gradient";
    EXPECT_LE(max_diff, 1e-4 * max_ref) << what << ": " << t.name << " (max |cpu grad| " << max_ref << ")";
    if (max_ref > 0 && max_diff / max_ref > worst) worst = max_diff / max_ref, worst_name = t.name;
  }
  std::printf("[ measured ] %s: gradients, worst max|cuda - cpu| / max|cpu| = %.2e (%s)\n", what.c_str(), worst,
              worst_name.c_str());
}

// Parameters after a few AdamW steps. Adam divides each gradient by its own running RMS, so an
// element whose gradient is tiny (at rounding level of its tensor) takes a full lr-sized step
// in a direction set by rounding: such elements (|g| < 1e-3 max |g| of the tensor at any step,
// on the CPU, but not exactly 0) may differ by the size of the updates; every other element must agree to 1e-5
// (updates are ~lr = 1e-3 each, so that is 1% of one step). The losses of each step are
// compared separately, so a wrong update of those few elements would still show.
void expect_params_close(const std::vector<TensorSpec>& layout, const std::vector<float>& cpu,
                         const std::vector<float>& gpu, const std::vector<std::vector<float>>& cpu_grads,
                         double lr) {
  int64_t loose = 0, total = 0;
  double worst = 0;
  for (const TensorSpec& t : layout) {
    std::vector<double> gmax;
    for (const auto& g : cpu_grads) {
      double m = 0;
      for (int64_t i = t.offset; i < t.offset + t.numel; ++i) m = std::max(m, double(std::abs(g[i])));
      gmax.push_back(m);
    }
    for (int64_t i = t.offset; i < t.offset + t.numel; ++i) {
      bool tiny = false;
      for (size_t k = 0; k < cpu_grads.size(); ++k)  // exact zeros (tokens not in a batch) stay exact
        tiny |= cpu_grads[k][i] != 0 && std::abs(cpu_grads[k][i]) < 1e-3 * gmax[k];
      const double tol = tiny ? 4.0 * lr * cpu_grads.size() : 1e-5;
      loose += tiny;
      ++total;
      ASSERT_NEAR(gpu[i], cpu[i], tol) << t.name << "[" << i - t.offset << "]" << (tiny ? " (tiny gradient)" : "");
      if (!tiny) worst = std::max(worst, double(std::abs(gpu[i] - cpu[i])));
    }
  }
  EXPECT_LT(loose, total / 20) << "too many elements with tiny gradients for the comparison to mean much";
  std::printf("[ measured ] parameters after the steps: max |cuda - cpu| = %.2e (%lld of %lld elements with tiny "
              "gradients compared loosely)\n", worst, (long long)loose, (long long)total);
}

class CudaVsCpu : public ::testing::TestWithParam<Case> {};

// One forward + backward, then 3 AdamW steps with clipping, CUDA vs CPU; and a second CUDA
// model on the same inputs gives bit-identical losses, gradients and parameters.
TEST_P(CudaVsCpu, LossGradientsAndStepsMatch) {
  SKIP_WITHOUT_GPU();
  const ModelShape s = small(GetParam().block, GetParam().norm);
  Transformer<float> cpu(s);
  cpu.init(7);
  perturb(cpu.params(), 3);
  const std::vector<float> start = cpu.params();
  std::mt19937_64 rng(11);
  const int B = 3, L = s.context;
  std::vector<Batch> batches;
  for (int k = 0; k < 4; ++k) batches.push_back(random_batch(rng, B, L, s.vocab));

  OptimConfig oc;
  oc.lr = 1e-3;
  CudaTrainModel gpu(s, oc);
  gpu.upload(start);
  const double lc = cpu.forward(batches[0].in.data(), batches[0].tgt.data(), B, L);
  const double lg = gpu.forward(batches[0].in.data(), batches[0].tgt.data(), B, L);
  EXPECT_NEAR(lg, lc, 1e-5 * std::abs(lc));
  std::printf("[ measured ] %s: loss cpu %.7f cuda %.7f (rel %.1e)\n", case_name(GetParam()).c_str(), lc, lg,
              std::abs(lg - lc) / lc);
  cpu.backward();
  gpu.backward();
  expect_grads_close(cpu.layout(), cpu.grads(), gpu.download_grads(), case_name(GetParam()));
  // Clip at half the first norm so the clipping path runs.
  double norm0 = 0;
  for (float g : cpu.grads()) norm0 += double(g) * g;
  oc.clip = 0.5 * std::sqrt(norm0);

  // Three steps on both, from the same start (a fresh CUDA model: the optimiser's clip differs).
  auto run_gpu = [&](std::vector<double>& losses, std::vector<double>& norms, std::vector<float>& grads) {
    CudaTrainModel g(s, oc);
    g.upload(start);
    for (int k = 1; k <= 3; ++k) {
      losses.push_back(g.forward(batches[k].in.data(), batches[k].tgt.data(), B, L));
      g.backward();
      if (k == 3) grads = g.download_grads();
      norms.push_back(g.clip_and_step(learning_rate(oc, k - 1, 3), oc.clip));
    }
    EXPECT_EQ(g.adam_steps(), 3);
    std::vector<float> p;
    g.download(p);
    return p;
  };
  std::vector<double> gl, gn, gl2, gn2;
  std::vector<float> gg, gg2;
  const std::vector<float> gp = run_gpu(gl, gn, gg);
  cpu.params() = start;
  AdamW opt(cpu.layout(), oc);
  std::vector<std::vector<float>> cpu_grads;
  for (int k = 1; k <= 3; ++k) {
    const double l = cpu.forward(batches[k].in.data(), batches[k].tgt.data(), B, L);
    EXPECT_NEAR(gl[k - 1], l, 1e-5 * std::abs(l)) << "step " << k;
    cpu.backward();
    cpu_grads.push_back(cpu.grads());
    const double n = clip_grad_norm(cpu.grads(), oc.clip);
    EXPECT_NEAR(gn[k - 1], n, 1e-5 * n) << "step " << k;
    EXPECT_GT(n, oc.clip) << "clipping should be active";
    opt.step(cpu.params(), cpu.grads(), learning_rate(oc, k - 1, 3));
  }
  expect_params_close(cpu.layout(), cpu.params(), gp, cpu_grads, oc.lr);

  // Determinism: the same run again, bit for bit.
  const std::vector<float> gp2 = run_gpu(gl2, gn2, gg2);
  EXPECT_EQ(gl, gl2);
  EXPECT_EQ(gn, gn2);
  ASSERT_EQ(gg.size(), gg2.size());
  EXPECT_EQ(0, std::memcmp(gg.data(), gg2.data(), gg.size() * sizeof(float))) << "gradients differ between runs";
  EXPECT_EQ(0, std::memcmp(gp.data(), gp2.data(), gp.size() * sizeof(float))) << "parameters differ between runs";
}

INSTANTIATE_TEST_SUITE_P(Blocks, CudaVsCpu,
                         ::testing::Values(Case{BlockKind::PreLN, true}, Case{BlockKind::Parallel, true},
                                           Case{BlockKind::SAS, true}, Case{BlockKind::SAS, false},
                                           Case{BlockKind::SASP, true}, Case{BlockKind::SASP, false}),
                         [](const auto& info) { return case_name(info.param); });

// The main case of the paper's setup: head_dim 64, sequences of 128; a batch shorter than the
// context (position rows past it get zero gradient), with a single sequence; odd sizes.
TEST(CudaTrain, LongerSequencesAndShortBatches) {
  SKIP_WITHOUT_GPU();
  struct Run {
    ModelShape s;
    int B, L;
  };
  const std::vector<Run> runs = {{small(BlockKind::PreLN, true, 128, 2, 128), 2, 128},
                                 {small(BlockKind::SASP, true, 128, 2, 128), 2, 128},
                                 {small(BlockKind::SAS, false, 64, 4, 16), 1, 11},
                                 // head_dim 5: unaligned rows (scalar head copies), q|k and
                                 // alpha|beta|gamma not on 64-float boundaries
                                 {small(BlockKind::SASP, true, 20, 4, 9), 2, 7},
                                 {small(BlockKind::Parallel, true, 20, 4, 9), 3, 9}};
  for (const Run& r : runs) {
    Transformer<float> cpu(r.s);
    cpu.init(5);
    perturb(cpu.params(), 9);
    CudaTrainModel gpu(r.s, OptimConfig{});
    gpu.upload(cpu.params());
    std::mt19937_64 rng(2);
    const Batch b = random_batch(rng, r.B, r.L, r.s.vocab);
    const double lc = cpu.forward(b.in.data(), b.tgt.data(), r.B, r.L);
    const double lg = gpu.forward(b.in.data(), b.tgt.data(), r.B, r.L);
    const std::string what = std::string(block_kind_name(r.s.block)) + " L=" + std::to_string(r.L);
    EXPECT_NEAR(lg, lc, 1e-5 * std::abs(lc)) << what;
    cpu.backward();
    gpu.backward();
    const std::vector<float> gg = gpu.download_grads();
    expect_grads_close(cpu.layout(), cpu.grads(), gg, what);
    const TensorSpec& wpe = cpu.spec("wpe");
    for (int64_t i = int64_t(r.L) * r.s.d_model; i < wpe.numel; ++i) ASSERT_EQ(gg[wpe.offset + i], 0.f) << what;
  }
}

// TF32 products: close to float32, not equal (about 1e-3 relative).
TEST(CudaTrain, Tf32IsClose) {
  SKIP_WITHOUT_GPU();
  const ModelShape s = small(BlockKind::SASP, true);
  Transformer<float> cpu(s);
  cpu.init(5);
  perturb(cpu.params(), 4);
  CudaTrainModel gpu(s, OptimConfig{}, 0, true);
  gpu.upload(cpu.params());
  std::mt19937_64 rng(8);
  const Batch b = random_batch(rng, 2, 16, s.vocab);
  const double lc = cpu.forward(b.in.data(), b.tgt.data(), 2, 16);
  EXPECT_NEAR(gpu.forward(b.in.data(), b.tgt.data(), 2, 16), lc, 1e-2 * lc);
}

TEST(CudaTrain, ErrorsNotCrashes) {
  SKIP_WITHOUT_GPU();
  const ModelShape s = small(BlockKind::PreLN, true);
  CudaTrainModel gpu(s, OptimConfig{});
  std::vector<int32_t> in(32, 1), tgt(32, 2);
  EXPECT_THROW(gpu.backward(), Error);  // no forward yet
  in[5] = s.vocab;
  EXPECT_THROW(gpu.forward(in.data(), tgt.data(), 2, 16), Error);
  in[5] = -1;
  EXPECT_THROW(gpu.forward(in.data(), tgt.data(), 2, 16), Error);
  in[5] = 1;
  tgt[7] = s.vocab + 3;
  EXPECT_THROW(gpu.forward(in.data(), tgt.data(), 2, 16), Error);
  tgt[7] = 2;
  EXPECT_THROW(gpu.forward(in.data(), tgt.data(), 1, 17), Error);  // longer than the context
  EXPECT_THROW(gpu.forward(in.data(), tgt.data(), 0, 16), Error);
  EXPECT_THROW(gpu.upload(std::vector<float>(3)), Error);
  EXPECT_THROW(gpu.upload_moments(std::vector<float>(3), std::vector<float>(3)), Error);
  EXPECT_THROW(CudaTrainModel(s, OptimConfig{}, 4096), Error);  // no such GPU
  // Still usable after the errors.
  EXPECT_TRUE(std::isfinite(gpu.forward(in.data(), tgt.data(), 2, 16)));
  gpu.backward();
}

// ---- the training loop end to end -----------------------------------------------------------

std::string tokenizer_dir() {
  if (const char* t = std::getenv("LAYERLAB_TRAIN_TOKENIZER")) return t;
  const char* shared = std::getenv("LAYERLAB_SHARED_DIR");
  return std::string(shared ? shared : LAYERLAB_SHARED_DIR) + "/tokenizers/gpt2";
}

struct LogRow {
  double loss, val_loss, grad_norm;
};
std::vector<LogRow> read_log(const fs::path& run) {
  const nlohmann::json j = nlohmann::json::parse(read_text_file((run / "log.json").string()));
  std::vector<LogRow> rows;
  for (const auto& r : j.at("rows")) rows.push_back({r.at("loss"), r.value("val_loss", -1.0), r.at("grad_norm")});
  return rows;
}

class CudaTrainLoop : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_available()) GTEST_SKIP() << "no CUDA GPU visible (or built without CUDA)";
    if (!fs::is_directory(tokenizer_dir())) GTEST_SKIP() << "no GPT-2 tokenizer at " << tokenizer_dir();
    dir_ = fs::temp_directory_path() / ("layerlab_cuda_train_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ofstream data(dir_ / "train.txt");
    for (int d = 0; d < 40; ++d) {
      data << "def f" << d << "(x):\n";
      for (int i = 0; i < 12; ++i) data << "    y" << i << " = x * " << d + i << " + " << i << "\n";
      data << "    return y3\n\n";
    }
    std::ofstream val(dir_ / "val.txt");
    val << "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n\n"
           "    def norm(self):\n        return (self.x ** 2 + self.y ** 2) ** 0.5\n";
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  TrainOptions options(BlockKind b, const std::string& device, const std::string& out) const {
    TrainOptions o;
    o.shape.block = b;
    o.shape.n_layer = 2;
    o.shape.d_model = 32;
    o.shape.n_head = 2;
    o.shape.context = 16;
    o.optim.lr = 3e-3;
    o.optim.warmup = 1;
    o.tokenizer_dir = tokenizer_dir();
    o.data = (dir_ / "train.txt").string();
    o.val = (dir_ / "val.txt").string();
    o.out = (dir_ / out).string();
    o.steps = 6;
    o.batch = 2;
    o.eval_every = 3;
    o.eval_batches = 1;
    o.device = device;
    o.quiet = true;
    return o;
  }
  fs::path dir_;
};

TEST_F(CudaTrainLoop, SameLossesAsCpuAndExactResume) {
  for (BlockKind b : {BlockKind::PreLN, BlockKind::SASP}) {
    const std::string n = block_kind_name(b);
    run_training(options(b, "cpu", "cpu_" + n));
    run_training(options(b, "cuda", "cuda_" + n));
    const auto rc = read_log(dir_ / ("cpu_" + n)), rg = read_log(dir_ / ("cuda_" + n));
    ASSERT_EQ(rc.size(), 6u);
    ASSERT_EQ(rg.size(), 6u);
    double worst = 0;
    for (size_t i = 0; i < rc.size(); ++i) {
      worst = std::max({worst, std::abs(rg[i].loss - rc[i].loss), std::abs(rg[i].val_loss - rc[i].val_loss)});
      EXPECT_NEAR(rg[i].loss, rc[i].loss, 1e-4) << n << " step " << i + 1;
      EXPECT_NEAR(rg[i].val_loss, rc[i].val_loss, 1e-4) << n << " step " << i + 1;
      EXPECT_NEAR(rg[i].grad_norm, rc[i].grad_norm, 1e-4 * rc[i].grad_norm) << n << " step " << i + 1;
    }
    std::printf("[ measured ] %s through run_training: max |loss cuda - cpu| over 6 steps = %.2e\n", n.c_str(), worst);
    const nlohmann::json meta = nlohmann::json::parse(read_text_file((dir_ / ("cuda_" + n) / "summary.json").string()));
    EXPECT_EQ(meta.at("device"), "cuda:0");
    EXPECT_EQ(meta.at("dtype"), "f32");

    // 3 steps, stop (checkpoint: parameters and moments downloaded), resume (uploaded), 3 more.
    TrainOptions split = options(b, "cuda", "split_" + n);
    split.stop_after = 3;
    run_training(split);
    split.stop_after = 0;
    split.resume = true;
    run_training(split);
    const auto rs = read_log(dir_ / ("split_" + n));
    ASSERT_EQ(rs.size(), 6u);
    for (size_t i = 0; i < rs.size(); ++i) {
      EXPECT_EQ(rs[i].loss, rg[i].loss) << n << " step " << i + 1;
      EXPECT_EQ(rs[i].val_loss, rg[i].val_loss) << n << " step " << i + 1;
    }
    EXPECT_EQ(read_text_file((dir_ / ("split_" + n) / "model" / "model.safetensors").string()),
              read_text_file((dir_ / ("cuda_" + n) / "model" / "model.safetensors").string()))
        << n << ": final weights differ";
  }
}

// Option errors come before any work (no tokenizer or data is read); runs without a GPU too.
TEST(CudaTrain, DeviceOptionErrors) {
  TrainOptions o;
  o.out = (fs::temp_directory_path() / "layerlab_cuda_train_never_made").string();
  o.tokenizer_dir = o.data = "/nonexistent";
  for (const auto& [device, dtype] : std::vector<std::pair<std::string, std::string>>{
           {"gpu", "f32"}, {"cuda:x", "f32"}, {"cuda:", "f32"}, {"cpu", "tf32"}, {"cuda", "bf16"}}) {
    o.device = device;
    o.dtype = dtype;
    try {
      run_training(o);
      ADD_FAILURE() << device << " " << dtype << " was accepted";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_TRUE(msg.rfind("device", 0) == 0 || msg.rfind("dtype", 0) == 0) << msg;
    }
  }
  if (!cuda_built()) {
    o.device = "cuda";
    o.dtype = "f32";
    EXPECT_THROW(run_training(o), Error);
  }
  EXPECT_FALSE(fs::exists(o.out));
}

}  // namespace
