#pragma once
// Turning user text into token ids for the CLI: prompts, and text files for similarity
// (plain text, or JSON lines with a "text" field), cut into windows of at most N tokens.
#include <string>
#include <vector>

#include "args.h"
#include "layerlab/model.h"

namespace layerlab::cli {

// --ids 1,2,3 or --prompt TEXT (tokenized with the model folder's tokenizer).
std::vector<int32_t> prompt_ids(const Args& args, const Model& model);
// Text of ids with the model folder's tokenizer.
std::string decode_text(const Model& model, const std::vector<int32_t>& ids);
// Sequences from --ids-file (one comma-separated id list per line) or --text-file
// (plain text or .jsonl with "text"), cut into windows of at most max_tokens; at most
// `limit` windows (0 = all).
std::vector<std::vector<int32_t>> sequences_from_files(const Args& args, const Model& model, int max_tokens,
                                                       int limit);

}  // namespace layerlab::cli
