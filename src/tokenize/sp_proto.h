#pragma once
// A SentencePiece ModelProto (sentencepiece_model.proto) serialized by hand, so a GGUF
// tokenizer (tokenizer.ggml.*) runs through libsentencepiece itself: the reference algorithm,
// already a dependency, with no protobuf library needed to build the message.
#include <cstdint>
#include <string>
#include <vector>

namespace layerlab::tok {

struct SpModelSpec {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int32_t> types;  // SentencePiece::Type: 1 normal, 2 unknown, 3 control, 4 user, 5 unused, 6 byte
  int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  bool bpe = true;               // TrainerSpec.model_type BPE (else UNIGRAM)
  bool byte_fallback = true;
  bool add_dummy_prefix = true;  // NormalizerSpec: the leading "▁"
  bool remove_extra_whitespaces = false;
};

std::string serialize_sp_model(const SpModelSpec& spec);

}  // namespace layerlab::tok
