// Protobuf wire format (varints, length-delimited fields, fixed32 floats) for the few fields
// of ModelProto that encoding and decoding read. Field numbers from sentencepiece_model.proto.
#include "tokenize/sp_proto.h"

#include <cstring>

namespace layerlab::tok {

namespace {

void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(v | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}
void tag(std::string& out, int field, int wire) { varint(out, uint64_t(field) << 3 | uint64_t(wire)); }
void field_varint(std::string& out, int field, int64_t v) {
  tag(out, field, 0);
  varint(out, uint64_t(v));  // negative int32 values are 10-byte varints, as protobuf writes them
}
void field_bytes(std::string& out, int field, const std::string& s) {
  tag(out, field, 2);
  varint(out, s.size());
  out += s;
}
void field_float(std::string& out, int field, float f) {
  tag(out, field, 5);
  char b[4];
  std::memcpy(b, &f, 4);
  out.append(b, 4);
}

}  // namespace

std::string serialize_sp_model(const SpModelSpec& spec) {
  std::string out;
  for (size_t i = 0; i < spec.pieces.size(); ++i) {
    std::string piece;                                   // ModelProto.SentencePiece
    field_bytes(piece, 1, spec.pieces[i]);               // piece
    field_float(piece, 2, spec.scores[i]);               // score
    if (spec.types[i] != 1) field_varint(piece, 3, spec.types[i]);  // type (default NORMAL)
    field_bytes(out, 1, piece);                          // pieces
  }
  std::string trainer;                                   // TrainerSpec
  field_varint(trainer, 3, spec.bpe ? 2 : 1);            // model_type: UNIGRAM 1, BPE 2
  field_varint(trainer, 4, int64_t(spec.pieces.size()));  // vocab_size
  field_varint(trainer, 35, spec.byte_fallback);         // byte_fallback
  field_varint(trainer, 40, spec.unk_id);
  field_varint(trainer, 41, spec.bos_id);
  field_varint(trainer, 42, spec.eos_id);
  field_varint(trainer, 43, spec.pad_id);
  field_bytes(trainer, 44, " \xE2\x81\x87 ");            // unk_surface " ⁇ ", the default
  field_bytes(out, 2, trainer);
  std::string norm;                                      // NormalizerSpec
  field_bytes(norm, 1, "identity");                      // name: no NFKC rules
  field_varint(norm, 3, spec.add_dummy_prefix);
  field_varint(norm, 4, spec.remove_extra_whitespaces);
  field_varint(norm, 5, 1);                              // escape_whitespaces: ' ' -> "▁"
  field_bytes(out, 3, norm);
  return out;
}

}  // namespace layerlab::tok
