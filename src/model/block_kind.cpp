// Block kinds and the block switches of ModelConfig that each one sets.
#include "layerlab/block_kind.h"

#include "layerlab/error.h"
#include "layerlab/model.h"

namespace layerlab {

const char* block_kind_name(BlockKind b) {
  switch (b) {
    case BlockKind::Standard: return "standard";
    case BlockKind::PreLN: return "preln";
    case BlockKind::Parallel: return "parallel";
    case BlockKind::SAS: return "sas";
    case BlockKind::SASP: return "sasp";
  }
  return "?";
}

BlockKind parse_trained_block(const std::string& name, const std::string& where) {
  for (BlockKind b : {BlockKind::PreLN, BlockKind::Parallel, BlockKind::SAS, BlockKind::SASP})
    if (name == block_kind_name(b)) return b;
  fail(where, "unknown block type '" + name.substr(0, 40) + "' (expected preln, parallel, sas or sasp)");
}

void set_block_kind(ModelConfig& c, BlockKind kind, bool norms) {
  c.block = kind;
  c.parallel_block = is_parallel(kind);
  c.attn_skip = !is_shaped(kind);
  c.shaped_attention = c.identity_value = c.identity_proj = is_shaped(kind);
  c.block_norms = norms;
}

}  // namespace layerlab
