#include "fuzz/fuzz_targets.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "golden.h"
#include "layerlab/error.h"
#include "layerlab/eval_text.h"
#include "layerlab/glue.h"
#include "layerlab/model.h"
#include "layerlab/plan.h"
#include "layerlab/safetensors.h"
#include "layerlab/tokenizer.h"

namespace layerlab::fuzz {

namespace {

namespace fs = std::filesystem;
using testing::shared_dir;

// One scratch folder per process; each target writes its input there as the file it parses.
const fs::path& scratch() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("layerlab_fuzz_" + std::to_string(::getpid()));
    fs::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(fs::temp_directory_path() / ("layerlab_fuzz_" + std::to_string(::getpid())), ec);
    });
    return d;
  }();
  return dir;
}

fs::path write_scratch(const std::string& folder, const std::string& name, std::string_view bytes) {
  const fs::path dir = scratch() / folder;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size()));
  return dir / name;
}

std::string read_file(const std::string& path) { return read_text_file(path); }

// --- safetensors: open, then read every small floating-point tensor.
void run_safetensors(std::string_view in) {
  SafetensorsFile f(write_scratch("st", "model.safetensors", in).string());
  for (const auto& [name, t] : f.tensors())
    if ((t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16) && t.numel() < (1 << 20))
      f.read_f32(name);
}
// gpt2-tiny's real header, cut to the tensors within the first 48 KB of data, and that data.
std::string real_checkpoint_prefix() {
  const std::string b = read_file(shared_dir() + "/golden/gpt2-tiny/model.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, b.data(), 8);
  const auto header = nlohmann::json::parse(b.substr(8, n));
  nlohmann::json kept = nlohmann::json::object();
  uint64_t end = 0;
  for (const auto& [name, v] : header.items())
    if (name == "__metadata__" || v["data_offsets"][1].get<uint64_t>() <= (48u << 10)) {
      kept[name] = v;
      if (name != "__metadata__") end = std::max(end, v["data_offsets"][1].get<uint64_t>());
    }
  const std::string h = kept.dump();
  const uint64_t m = h.size();
  return std::string(reinterpret_cast<const char*>(&m), 8) + h + b.substr(8 + n, end);
}

std::vector<std::string> seeds_safetensors() {
  // A real checkpoint header with its data cut to the first tensors, and a 2x2 tensor.
  OutTensor w;
  w.name = "w";
  w.shape = {2, 2};
  w.f32 = {1, 2, 3, 4};
  write_safetensors((scratch() / "seed.safetensors").string(), {w}, {{"format", "pt"}});
  return {read_file((scratch() / "seed.safetensors").string()), real_checkpoint_prefix()};
}

// --- config.json beside real weights (gpt2 / llama / bert picked by the text), then load.
void run_config(std::string_view in) {
  std::string family = "gpt2-tiny";
  if (in.find("llama") != std::string_view::npos) family = "llama-tiny";
  if (in.find("bert") != std::string_view::npos) family = "bert-tiny";
  const fs::path cfg = write_scratch(family, "config.json", in);
  const fs::path weights = cfg.parent_path() / "model.safetensors";
  if (!fs::exists(weights)) fs::create_symlink(shared_dir() + "/golden/" + family + "/model.safetensors", weights);
  load_model(cfg.parent_path().string());
}
std::vector<std::string> seeds_config() {
  return {read_file(shared_dir() + "/golden/gpt2-tiny/config.json"), read_file(shared_dir() + "/golden/llama-tiny/config.json"),
          read_file(shared_dir() + "/golden/bert-tiny/config.json")};
}

// --- plans: text or JSON (parse_plan_arg picks), checked against a 24-layer model, printed.
void run_plan(std::string_view in) {
  if (!in.empty() && in[0] == '@') return;  // '@file' reads a file: not the parser's input
  const Plan p = parse_plan_arg(std::string(in));
  validate_plan(p, 24);
  plan_to_text(p);
}
std::vector<std::string> seeds_plan() {
  return {"0-3,[4-7]x3,8-23", "23-0", "0,0,1,[2,3]", "0-11,11,11,12-23",
          R"({"steps": [0, 1, {"parallel": [2, 3], "iterations": 2}, 4]})", R"({"name": "a", "steps": [5]})"};
}

// --- tokenizer.json: load, then encode and decode a fixed text.
void run_tokenizer_json(std::string_view in) {
  const fs::path p = write_scratch("tok", "tokenizer.json", in);
  const auto tok = load_tokenizer(p.parent_path().string());
  const auto ids = tok->encode("Hello, world! <|endoftext|> def f(x): return x", {.parse_special = true});
  tok->decode(ids);
}
// The 300 lowest GPT-2 ids and the merges among them: a small real tokenizer.json.
std::vector<std::string> seeds_tokenizer_json() {
  const auto vocab = nlohmann::json::parse(read_file(shared_dir() + "/tokenizers/gpt2/vocab.json"));
  nlohmann::json small = nlohmann::json::object();
  std::set<std::string> kept;
  for (const auto& [piece, id] : vocab.items())
    if (id.get<int>() < 300) small[piece] = id, kept.insert(piece);
  nlohmann::json merges = nlohmann::json::array();
  std::ifstream in(shared_dir() + "/tokenizers/gpt2/merges.txt");
  std::string line;
  while (std::getline(in, line)) {
    const size_t sp = line.find(' ');
    if (line.empty() || line[0] == '#' || sp == std::string::npos) continue;
    const std::string a = line.substr(0, sp), b = line.substr(sp + 1);
    if (kept.count(a) && kept.count(b) && kept.count(a + b)) merges.push_back(line);
  }
  small["<|endoftext|>"] = 300;
  const nlohmann::json tj = {{"model", {{"type", "BPE"}, {"vocab", small}, {"merges", merges}}},
                             {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
                             {"added_tokens", {{{"id", 300}, {"content", "<|endoftext|>"}, {"special", true}}}}};
  return {tj.dump()};
}

// --- benchmark JSONL: every record through every task's reader.
void run_jsonl(std::string_view in) {
  const auto recs = evaltext::read_jsonl(write_scratch("data", "data.jsonl", in).string());
  for (const auto& r : recs) {
    for (auto reader : {&evaltext::hellaswag_item, &evaltext::arc_item, &evaltext::winogrande_item}) {
      try {
        reader(r.value, r.where);
      } catch (const Error&) {
        // a record of another task: expected
      }
    }
  }
}
std::vector<std::string> seeds_jsonl() {
  std::vector<std::string> out;
  for (const char* f : {"hellaswag.jsonl", "arc_easy.jsonl", "winogrande.jsonl"}) {
    const std::string path = std::string(LAYERLAB_EVAL_DATA_DIR) + "/" + f;
    if (fs::exists(path)) out.push_back(read_file(path));
  }
  out.push_back(R"({"ctx_a": "a", "ctx_b": "b", "activity_label": "x", "endings": ["1", "2"], "label": "1"})");
  return out;
}

// --- GLUE records: the file through every task's reader (each task wants other fields).
void run_glue(std::string_view in) {
  const std::string path = write_scratch("glue", "train.jsonl", in).string();
  for (const std::string& task : glue::task_names()) {
    try {
      glue::read_file(path, glue::task_spec(task));
    } catch (const Error&) {
      // a record of another task, or a bad one: expected
    }
  }
}
std::vector<std::string> seeds_glue() {
  std::vector<std::string> out;
  for (const char* t : {"sst2", "mrpc", "stsb", "qnli"}) {
    std::ifstream f(shared_dir() + "/data/glue/" + t + "/validation.jsonl");
    std::string text, line;
    for (int i = 0; i < 4 && std::getline(f, line); ++i) text += line + "\n";
    if (!text.empty()) out.push_back(text);
  }
  out.push_back(R"({"sentence1": "a", "sentence2": "b", "label": 4.2, "idx": 3})");
  return out;
}

}  // namespace

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {
      {"safetensors", run_safetensors, seeds_safetensors}, {"config", run_config, seeds_config},
      {"plan", run_plan, seeds_plan},                      {"tokenizer_json", run_tokenizer_json, seeds_tokenizer_json},
      {"jsonl", run_jsonl, seeds_jsonl},                   {"glue", run_glue, seeds_glue},
  };
  return all;
}

const Target* find_target(std::string_view name) {
  for (const auto& t : targets())
    if (name == t.name) return &t;
  return nullptr;
}

}  // namespace layerlab::fuzz
