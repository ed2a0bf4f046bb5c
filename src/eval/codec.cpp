// Adapts layerlab::Tokenizer to what the tasks need.
#include "layerlab/eval.h"
#include "layerlab/tokenizer.h"

namespace layerlab {

TextCodec codec_for(const Tokenizer& tok, bool add_bos) {
  TextCodec c;
  c.encode = [&tok](const std::string& s) { return tok.encode(s); };
  c.decode = [&tok](const std::vector<int32_t>& ids) { return tok.decode(ids); };
  c.bos_id = tok.bos_id();
  c.eos_id = tok.eos_id();
  c.prefix_id = c.bos_id >= 0 ? c.bos_id : c.eos_id;
  c.add_bos = add_bos;
  if (tok.family() == "wordpiece") {
    for (int32_t i = 0; i < tok.vocab_size(); ++i) {
      const std::string p = tok.piece(i);
      if (p == "[MASK]") c.mask_id = i;
      if (p == "[CLS]") c.cls_id = i;
      if (p == "[SEP]") c.sep_id = i;
    }
  }
  return c;
}

}  // namespace layerlab
