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
#include "layerlab/gguf.h"
#include "layerlab/glue.h"
#include "layerlab/model.h"
#include "layerlab/plan.h"
#include "layerlab/safetensors.h"
#include "layerlab/tokenizer.h"
#include "tokenize/bpe.h"

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

// --- GGUF: open, read every small tensor's bytes, then try it as a model and a tokenizer.
void run_gguf(std::string_view in) {
  const std::string path = write_scratch("gguf", "model.gguf", in).string();
  {
    GgufFile f(path);
    volatile uint8_t sink = 0;  // every tensor byte the table claims must be inside the mapping
    for (const auto& t : f.tensors())
      if (t.bytes < (1u << 20))
        for (uint64_t k = 0; k < t.bytes; k += 16) sink = sink + f.data(t)[k];
  }
  try {
    load_model(path);
  } catch (const Error&) {
    // most mutations break the model's metadata: the tokenizer below is still worth a try
  }
  const auto tok = load_tokenizer(path);
  tok->decode(tok->encode("Hello, world! def f(x): return x", {.add_bos = true}));
}
// A hand-sized llama GGUF (2 layers, d=8, 268 tokens with byte fallback pieces and scores) and
// a GPT-2 style one with merges: small enough that mutations reach every part of the header.
std::vector<std::string> seeds_gguf() {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    tokens.push_back(name), types.push_back(6);
  }
  for (const char* p : {"\u2581", "e", "l", "o", "H", "ll", "He", "Hell", "Hello"}) tokens.push_back(p), types.push_back(1);
  std::vector<float> scores(tokens.size());
  for (size_t i = 0; i < scores.size(); ++i) scores[i] = -float(i);
  const int64_t d = 8, ff = 16, vocab = int64_t(tokens.size());
  auto small = [](int64_t n) { return std::vector<float>(size_t(n), 0.01f); };
  std::vector<GgufOutTensor> ts = {gguf_f32_tensor("token_embd.weight", {d, vocab}, small(d * vocab)),
                                   gguf_f32_tensor("output_norm.weight", {d}, small(d))};
  for (int l = 0; l < 2; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    for (auto [n, rows, cols] : {std::tuple{"attn_q.weight", d, d}, {"attn_k.weight", d / 2, d}, {"attn_v.weight", d / 2, d},
                                 {"attn_output.weight", d, d}, {"ffn_gate.weight", ff, d}, {"ffn_up.weight", ff, d},
                                 {"ffn_down.weight", d, ff}})
      ts.push_back(gguf_f32_tensor(b + n, {cols, rows}, small(rows * cols)));
    ts.push_back(gguf_f32_tensor(b + "attn_norm.weight", {d}, small(d)));
    ts.push_back(gguf_f32_tensor(b + "ffn_norm.weight", {d}, small(d)));
  }
  const std::vector<std::pair<std::string, GgufOutValue>> llama = {
      {"general.architecture", gguf_str("llama")},      {"llama.block_count", gguf_u32(2)},
      {"llama.embedding_length", gguf_u32(uint32_t(d))}, {"llama.feed_forward_length", gguf_u32(uint32_t(ff))},
      {"llama.attention.head_count", gguf_u32(2)},       {"llama.attention.head_count_kv", gguf_u32(1)},
      {"llama.context_length", gguf_u32(64)},            {"llama.rope.freq_base", gguf_f32(10000)},
      {"tokenizer.ggml.model", gguf_str("llama")},       {"tokenizer.ggml.tokens", gguf_strings(tokens)},
      {"tokenizer.ggml.scores", gguf_f32s(scores)},      {"tokenizer.ggml.token_type", gguf_i32s(types)},
      {"tokenizer.ggml.bos_token_id", gguf_u32(1)},      {"tokenizer.ggml.eos_token_id", gguf_u32(2)}};
  write_gguf((scratch() / "seed_llama.gguf").string(), llama, ts);
  // GPT-2 style: the 256 byte-level characters (bytes_to_unicode), a few merges, <|endoftext|>.
  std::vector<std::string> pieces;
  for (char32_t c : tok::byte_to_unicode()) {
    std::string u;
    if (c < 0x80) u += char(c);
    else u += char(0xC0 | (c >> 6)), u += char(0x80 | (c & 0x3F));  // all below U+0800
    pieces.push_back(u);
  }
  for (const char* p : {"He", "ll", "Hell", "Hello", "<|endoftext|>"}) pieces.push_back(p);
  std::vector<int32_t> ptypes(pieces.size(), 1);
  ptypes.back() = 3;
  const std::vector<std::pair<std::string, GgufOutValue>> gpt2 = {
      {"general.architecture", gguf_str("gpt2")},
      {"tokenizer.ggml.model", gguf_str("gpt2")},
      {"tokenizer.ggml.tokens", gguf_strings(pieces)},
      {"tokenizer.ggml.token_type", gguf_i32s(ptypes)},
      {"tokenizer.ggml.merges", gguf_strings({"H e", "l l", "He ll", "Hell o"})},
      {"tokenizer.ggml.eos_token_id", gguf_u32(uint32_t(pieces.size() - 1))}};
  write_gguf((scratch() / "seed_gpt2.gguf").string(), gpt2, {});
  return {read_file((scratch() / "seed_llama.gguf").string()), read_file((scratch() / "seed_gpt2.gguf").string())};
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
      {"gguf", run_gguf, seeds_gguf},
  };
  return all;
}

const Target* find_target(std::string_view name) {
  for (const auto& t : targets())
    if (name == t.name) return &t;
  return nullptr;
}

}  // namespace layerlab::fuzz
