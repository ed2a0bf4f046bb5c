// (context, continuation) strings -> token sequences, as lm-eval's HFLM does it.
#include "layerlab/error.h"
#include "layerlab/eval.h"

namespace layerlab {

EncodedPair encode_pair(const TextCodec& codec, const std::string& context_in, const std::string& continuation_in) {
  std::string context = context_in, continuation = continuation_in;
  // Trailing spaces belong to the continuation (HFLM._encode_pair), so "Answer: " + "x"
  // tokenises like "Answer:" + " x".
  size_t keep = context.size();
  while (keep > 0 && (context[keep - 1] == ' ' || context[keep - 1] == '\t' || context[keep - 1] == '\n' ||
                      context[keep - 1] == '\r' || context[keep - 1] == '\f' || context[keep - 1] == '\v'))
    --keep;
  continuation = context.substr(keep) + continuation;
  context.resize(keep);
  EncodedPair out;
  if (context.empty()) {
    if (codec.prefix_id < 0) fail("encode", "an empty context needs a prefix token (BOS or EOS), and the tokenizer has none");
    out.context = {codec.prefix_id};
    out.continuation = codec.encode(continuation);
  } else {
    const std::vector<int32_t> whole = codec.encode(context + continuation);
    out.context = codec.encode(context);
    if (out.context.size() > whole.size()) fail("encode", "context encodes to more tokens than context + continuation");
    out.continuation.assign(whole.begin() + out.context.size(), whole.end());
    if (codec.add_bos && codec.bos_id >= 0) out.context.insert(out.context.begin(), codec.bos_id);
  }
  return out;
}

ScoreSequence continuation_sequence(const EncodedPair& pair, int max_length) {
  const size_t nc = pair.continuation.size();
  if (nc == 0) fail("encode", "the continuation encodes to no tokens");
  std::vector<int32_t> full = pair.context;
  full.insert(full.end(), pair.continuation.begin(), pair.continuation.end());
  // lm-eval: (context + continuation)[-(max_length + 1):][:-1]
  if (full.size() > size_t(max_length) + 1) full.erase(full.begin(), full.end() - (max_length + 1));
  if (nc + 1 > full.size())
    fail("encode", "the continuation (" + std::to_string(nc) + " tokens) does not fit the model's context of " +
                       std::to_string(max_length) + " tokens");
  ScoreSequence s;
  s.ids.assign(full.begin(), full.end() - 1);
  const int32_t m = static_cast<int32_t>(full.size());
  for (int32_t t = m - static_cast<int32_t>(nc); t < m; ++t) {
    s.rows.push_back(t - 1);
    s.targets.push_back(full[t]);
  }
  return s;
}

}  // namespace layerlab
