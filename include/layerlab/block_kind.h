#pragma once
// The kinds of transformer block, one vocabulary for inference (ModelConfig) and training
// (train::ModelShape). Standard is the block of GPT-2 / Llama / BERT checkpoints; the others
// are the blocks `layerlab train` builds ("Simplifying Transformer Blocks", docs/TRAINING.md):
//   preln    GPT-2's block, trained here:  h = x + Attn(LN1 x);     out = h + MLP(LN2 h)
//   parallel GPT-J/PaLM:                   out = x + Attn(LN x) + MLP(LN x)
//   sas      skipless shaped attention:    h = g_a * SAttn(LN1 x);  out = s_ff * h + b_ff * MLP(LN2 h)
//   sasp     SAS-P, no skips at all:       out = g_a * SAttn(LN x) + b_ff * MLP(LN x)
#include <string>

namespace layerlab {

enum class BlockKind { Standard, PreLN, Parallel, SAS, SASP };

const char* block_kind_name(BlockKind b);  // "standard", "preln", "parallel", "sas", "sasp"
// A trainer block name ("preln" | "parallel" | "sas" | "sasp"); Error naming `where` otherwise.
BlockKind parse_trained_block(const std::string& name, const std::string& where);
inline bool is_shaped(BlockKind b) { return b == BlockKind::SAS || b == BlockKind::SASP; }
inline bool is_parallel(BlockKind b) { return b == BlockKind::Parallel || b == BlockKind::SASP; }

}  // namespace layerlab
