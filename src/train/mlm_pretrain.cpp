// `layerlab train --objective mlm`: windows of the tokenized text, masked afresh at every
// step, through EncoderModel (the fine-tuning encoder's backward) and MlmHead; the result
// exported under Hugging Face's BertForMaskedLM names.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "layerlab/error.h"
#include "layerlab/finetune.h"
#include "layerlab/fs.h"
#include "layerlab/pretrain.h"
#include "layerlab/safetensors.h"
#include "layerlab/tokenizer.h"
#include "train/encoder_model.h"
#include "train/mlm_head.h"
#include "util/json_read.h"

namespace layerlab::finetune {

using nlohmann::json;

namespace {

int32_t vocab_id(const Tokenizer& tok, const std::string& piece, const std::string& where) {
  for (int32_t i = 0; i < tok.vocab_size(); ++i)
    if (tok.piece(i) == piece) return i;
  fail(where, "the vocabulary has no " + piece + " token (masked-LM needs [CLS], [SEP], [MASK])");
}

// Texts of a .jsonl ("text" fields) or plain-text file (one text per non-empty line).
std::vector<std::string> read_texts(const std::string& path) {
  const std::string all = read_text_file(path);
  const bool jsonl = path.size() > 6 && path.substr(path.size() - 6) == ".jsonl";
  std::vector<std::string> out;
  size_t line_no = 0;
  for (size_t pos = 0; pos < all.size();) {
    size_t end = all.find('\n', pos);
    if (end == std::string::npos) end = all.size();
    const std::string line = all.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (!jsonl) {
      out.push_back(line);
      continue;
    }
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      fail(path + ":" + std::to_string(line_no), std::string("not JSON: ") + e.what());
    }
    if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
      fail(path + ":" + std::to_string(line_no), "field 'text' missing or not a string");
    out.push_back(j["text"].get<std::string>());
  }
  if (out.empty()) fail(path, "no text");
  return out;
}

void write_folder(const MlmOptions& o, const EncoderShape& s, const std::vector<train::TensorSpec>& layout,
                  const std::vector<float>& p) {
  std::vector<OutTensor> out;
  for (const auto& t : layout) {
    OutTensor x;
    x.name = t.name;
    x.shape = t.shape;
    x.f32.assign(p.begin() + t.offset, p.begin() + t.offset + t.numel);
    out.push_back(std::move(x));
  }
  write_safetensors(o.out_dir + "/model.safetensors", out, {{"format", "pt"}});
  const json cfg = {{"architectures", {"BertForMaskedLM"}},
                    {"model_type", "bert"},
                    {"vocab_size", s.vocab},
                    {"hidden_size", s.d_model},
                    {"num_hidden_layers", s.n_layer},
                    {"num_attention_heads", s.n_head},
                    {"intermediate_size", s.d_ff},
                    {"max_position_embeddings", s.max_positions},
                    {"type_vocab_size", s.type_vocab},
                    {"hidden_act", "gelu"},
                    {"layer_norm_eps", s.norm_eps},
                    {"initializer_range", o.init_std},
                    {"hidden_dropout_prob", 0.0},
                    {"attention_probs_dropout_prob", 0.0},
                    {"pad_token_id", 0},
                    {"position_embedding_type", "absolute"},
                    {"tie_word_embeddings", true}};
  write_file_atomic(o.out_dir + "/config.json", cfg.dump(2) + "\n");
  copy_tokenizer_files(o.tokenizer_dir, o.out_dir);
}

}  // namespace

json pretrain_mlm(const MlmOptions& o) {
  if (o.steps < 1 || o.batch < 1) fail_option("steps", "--steps and --batch must be at least 1");
  if (o.context < 3) fail_option("context", "a window needs [CLS], a token and [SEP]");
  if (o.mask_rate <= 0 || o.mask_rate > 1) fail_option("mask_rate", "must be in (0, 1]");
  auto tok = load_tokenizer(o.tokenizer_dir);
  if (tok->family() != "wordpiece") fail_option("tokenizer", "masked-LM needs a WordPiece (BERT) vocabulary");
  const int32_t cls = vocab_id(*tok, "[CLS]", o.tokenizer_dir), sep = vocab_id(*tok, "[SEP]", o.tokenizer_dir),
                mask = vocab_id(*tok, "[MASK]", o.tokenizer_dir);
  // Windows: the token stream of every text cut into context - 2 pieces, each [CLS] piece [SEP].
  std::vector<std::vector<int32_t>> windows;
  const size_t body = size_t(o.context - 2);
  for (const std::string& text : read_texts(o.data)) {
    EncodeOptions eo;
    const std::vector<int32_t> ids = tok->encode(text, eo);
    for (size_t b = 0; b < ids.size(); b += body) {
      std::vector<int32_t> w = {cls};
      w.insert(w.end(), ids.begin() + b, ids.begin() + std::min(ids.size(), b + body));
      w.push_back(sep);
      windows.push_back(std::move(w));
    }
  }
  if (windows.empty()) fail(o.data, "no tokens");

  const EncoderShape s{o.n_layer, o.d_model, o.n_head, o.d_ff > 0 ? o.d_ff : 4 * o.d_model, tok->vocab_size(),
                       o.context, 2, 1e-12};
  if (s.d_model % s.n_head) fail_option("heads", "must divide the width");
  EncoderModel<float> enc(s, full_plan(s.n_layer));
  enc.reserve_slots(o.batch);
  MlmHead<float> head(s.d_model, s.vocab, s.norm_eps);
  const int64_t enc_n = train::parameter_count(enc.layout());
  std::vector<train::TensorSpec> layout = enc.layout();
  for (train::TensorSpec t : mlm_head_layout(s.d_model, s.vocab, enc_n)) layout.push_back(t);
  for (auto& t : layout)  // Hugging Face's _init_weights: LayerNorm weights 1, embeddings normal
    if (t.name.find("LayerNorm.weight") != std::string::npos) t.init = train::Init::One;
  int64_t wte = -1;
  for (const auto& t : layout)
    if (t.name == "bert.embeddings.word_embeddings.weight") wte = t.offset;
  const int64_t n_params = train::parameter_count(layout);
  std::vector<float> p(static_cast<size_t>(n_params), 0.0f), g(static_cast<size_t>(n_params), 0.0f);
  init_normal(p, layout, o.init_std, o.seed);

  train::OptimConfig oc;
  oc.lr = o.lr;
  oc.weight_decay = o.weight_decay;
  oc.clip = o.clip;
  train::AdamW adam(layout, oc);
  const int warmup = o.warmup >= 0 ? o.warmup : int(std::ceil(0.1 * o.steps));
  std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ull + 17);
  json losses = json::array();
  const auto t0 = std::chrono::steady_clock::now();
  int64_t masked_total = 0;
  for (int step = 0; step < o.steps; ++step) {
    std::vector<Masked> batch;
    int chosen = 0;
    for (int b = 0; b < o.batch; ++b) {
      const auto& w = windows[size_t(rng() % windows.size())];
      std::vector<bool> special(w.size(), false);
      special.front() = special.back() = true;
      batch.push_back(mask_tokens(w, special, mask, s.vocab, o.mask_rate, rng));
      chosen += int(batch.back().positions.size());
    }
    std::fill(g.begin(), g.end(), 0.0f);
    double sum = 0;
    for (int b = 0; b < o.batch && chosen > 0; ++b) {
      const Masked& m = batch[size_t(b)];
      const std::vector<int32_t> types(m.ids.size(), 0);
      const auto& h = enc.forward(p.data(), m.ids, types, b);
      std::vector<float> dh(h.size());
      sum += head.loss(p.data() + enc_n, p.data() + wte, h.data(), int(m.ids.size()), m.positions, m.targets,
                       1.0 / chosen, g.data() + enc_n, g.data() + wte, dh.data());
      enc.backward(p.data(), g.data(), dh, b);
    }
    masked_total += chosen;
    const double loss = chosen > 0 ? sum / chosen : 0.0;
    train::clip_grad_norm(g, o.clip);
    adam.step(p, g, linear_schedule(o.lr, step, warmup, o.steps));
    losses.push_back(loss);
    if (o.log_every > 0 && (step + 1) % o.log_every == 0) std::printf("step %d loss %.6f\n", step + 1, loss);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (!is_directory(o.out_dir)) fail_option("out", "cannot create the folder '" + o.out_dir + "'");
  write_folder(o, s, layout, p);
  const json r = {{"objective", "mlm"}, {"steps", o.steps}, {"batch", o.batch}, {"windows", windows.size()},
                  {"params", n_params}, {"masked_tokens", masked_total}, {"seconds", secs}, {"losses", losses}};
  write_file_atomic(o.out_dir + "/train_mlm.json", r.dump() + "\n");
  return r;
}

}  // namespace layerlab::finetune
