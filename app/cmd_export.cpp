// layerlab export --model DIR|FILE.gguf (--plan P | --variant V --n N) --out OUT [--format hf|gguf] [--dtype T]
// layerlab convert --model DIR|FILE.gguf --out OUT [--format hf|gguf] [--dtype T]
// The plan's sequential steps as a standalone model (Hugging Face folder or GGUF file); convert
// is export with the full plan (the same library call, include/layerlab/export.h).
#include <cstdio>

#include "commands.h"
#include "layerlab/error.h"
#include "layerlab/export.h"
#include "model_args.h"

namespace layerlab::cli {

namespace {

int run_export(const Argv& argv, bool with_plan) {
  const char* name = with_plan ? "export" : "convert";
  Options o(name, with_plan ? "write the plan's layers, in order (skip, repeat, reverse, shuffle; a layer used twice "
                              "is written twice), as a model of its own that Hugging Face transformers and llama.cpp load"
                            : "write the model in the other format (Hugging Face folder <-> GGUF file) or another weight type");
  ModelArgs ma;
  PlanArgs pa;
  std::string out, format, dtype;
  bool force = false;
  add_model_option(o, ma);
  if (with_plan) add_plan_options(o, pa);
  o.required(o.text("--out", out, "PATH", "the folder (hf) or file (gguf) to write; refused if it exists, unless --force"));
  o.text("--format", format, "hf|gguf", "hf: config.json + model.safetensors + tokenizer files; gguf: one llama.cpp file",
         "gguf when --out ends in .gguf, else hf");
  o.text("--dtype", dtype, "TYPE",
         "weight type of the matrices: f32, f16, bf16 (hf, gguf) or q8_0, q4_0, q4_K, q5_K, q6_K (gguf)",
         "as stored (hf: f32 for block types)");
  o.flag("--force", force, "replace an existing --out");
  if (!o.parse(argv)) return 0;
  if (with_plan) {
    if (!o.given("--plan") && !o.given("--variant"))
      throw Error("--plan: required (the layers to export; `layerlab convert` writes the whole model)");
    check_plan_args(o, pa);
  }
  if (format.empty()) format = out.size() > 5 && out.compare(out.size() - 5, 5, ".gguf") == 0 ? "gguf" : "hf";
  auto model = load_model(ma.model);
  const Plan plan = with_plan ? plan_from_args(o, pa, model->config()) : full_plan(model->config().n_layer);
  ExportOptions eo;
  eo.format = format;
  eo.dtype = dtype;
  eo.force = force;
  const ExportResult r = export_plan(*model, plan, out, eo);
  std::printf("wrote %s (%s, %d layers: plan %s; %zu tensors, %.2f MB of weights, %s)\n", r.path.c_str(),
              format.c_str(), r.n_layer, plan_to_text(plan).c_str(), r.tensors, r.bytes / 1e6,
              dtype.empty() ? "types as stored" : dtype.c_str());
  for (const auto& n : r.notes) std::printf("note: %s\n", n.c_str());
  return 0;
}

}  // namespace

int cmd_export(const Argv& argv) { return run_export(argv, true); }
int cmd_convert(const Argv& argv) { return run_export(argv, false); }

}  // namespace layerlab::cli
