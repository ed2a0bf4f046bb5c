// export_plan: checks the request, works out the layer order and writes through a temporary
// path that is renamed into place only when complete.
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/gguf.h"
#include "model/export_internal.h"

namespace layerlab {

namespace fs = std::filesystem;

std::vector<int> export_layer_order(const Plan& plan) {
  std::vector<int> order;
  for (size_t k = 0; k < plan.steps.size(); ++k) {
    const PlanStep& s = plan.steps[k];
    if (s.is_group()) {
      Plan one;
      one.steps = {s};
      fail_option("plan", "step " + std::to_string(k + 1) + " ('" + plan_to_text(one) + "') is " +
                              (s.layers.size() > 1 ? "a parallel group" : "a loop") +
                              ": an exported model runs its layers one after another, so only plans of single "
                              "layers (skip, repeat, reverse, shuffle) can be exported");
    }
    order.push_back(s.layers.at(0));
  }
  if (order.empty()) fail_option("plan", "has no steps");
  return order;
}

namespace exporting {

std::vector<float> rows_f32(const Param& p, int64_t r0, int64_t n) {
  std::vector<float> out(size_t(n * p.cols));
  dequantize_rows(p, r0, n, out.data());
  return out;
}

bool head_is_embedding(const Model& m) {
  const ModelWeights& w = m.weights();
  if (m.config().tied_head || w.head_w.raw == w.tok_emb.raw) return true;
  if (w.head_w.type != w.tok_emb.type || w.head_w.rows != w.tok_emb.rows || w.head_w.cols != w.tok_emb.cols) return false;
  const size_t bytes = size_t(w.head_w.rows * w.head_w.bytes_per_row());
  return std::memcmp(w.head_w.raw, w.tok_emb.raw, bytes) == 0;
}

}  // namespace exporting

namespace {

WeightType target_type(const ExportOptions& o, bool& keep) {
  keep = o.dtype.empty();
  WeightType t = WeightType::F32;
  if (!keep && !parse_weight_type(o.dtype, t))
    fail_option("dtype", "'" + o.dtype + "' is not a weight type (f32, f16, bf16, q8_0, q4_0, q4_K, q5_K, q6_K)");
  if (o.format == "hf" && is_quantized(t))
    fail_option("dtype", "'" + o.dtype + "' is a llama.cpp block type: a Hugging Face folder holds f32, f16 or bf16 "
                         "(use --format gguf for quantized weights)");
  return t;
}

}  // namespace

ExportResult export_plan(const Model& model, const Plan& plan, const std::string& out, const ExportOptions& o) {
  if (o.format != "hf" && o.format != "gguf") fail_option("format", "'" + o.format + "' is not hf or gguf");
  bool keep = true;
  const WeightType dtype = target_type(o, keep);
  const ModelConfig& c = model.config();
  const bool family_ok = c.family == "llama" || c.family == "gpt2" || (c.family == "bert" && o.format == "hf");
  if (!family_ok || !c.standard_block())
    fail(model.dir(), std::string("export supports the llama and gpt2 families (and bert to a Hugging Face folder); ") +
                          "this model is '" + c.family +
                          (c.standard_block() ? "" : std::string(" (") + block_kind_name(c.block) + " blocks)") + "'" +
                          (c.family == "bert" ? " and --format is gguf" : ""));
  validate_plan(plan, c.n_layer);
  ExportResult r;
  r.path = out;
  exporting::Job job{model, export_layer_order(plan), keep, dtype, r};
  r.n_layer = int(job.order.size());

  if (out.empty()) fail_option("out", "is empty");
  std::error_code ec;
  const bool exists = fs::exists(fs::symlink_status(out, ec));
  if (exists && !o.force) fail_option("out", "'" + out + "' exists (pass --force to replace it)");
  if (exists && fs::equivalent(out, model.dir(), ec)) fail_option("out", "'" + out + "' is the model being exported");
  fs::path target = fs::absolute(out).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();  // "out/" names the folder "out"
  if (!is_directory(target.parent_path().string()))
    fail_option("out", "the folder '" + target.parent_path().string() + "' does not exist");
  if (exists && o.format == "hf" && !is_directory(out)) fail_option("out", "'" + out + "' is a file, not a folder");
  if (exists && o.format == "gguf" && is_directory(out)) fail_option("out", "'" + out + "' is a folder, not a file");

  // Written beside the target (same file system), renamed into place when complete.
  const std::string tmp = target.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp, ec);
  try {
    if (o.format == "hf") {
      if (!fs::create_directory(tmp, ec)) fail(tmp, "cannot create folder: " + ec.message());
      exporting::write_hf_folder(job, tmp);
    } else {
      exporting::write_gguf_file(job, tmp);
    }
    if (exists && o.format == "hf") {
      const std::string old = target.string() + ".old-" + std::to_string(::getpid());
      fs::rename(target, old);
      fs::rename(tmp, target);
      fs::remove_all(old, ec);
    } else {
      fs::rename(tmp, target);  // replaces an existing file atomically
    }
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp, ec);
    fail(out, std::string("cannot write: ") + e.what());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  return r;
}

}  // namespace layerlab
