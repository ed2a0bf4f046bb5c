#pragma once
// Turning user text into token ids for the CLI: prompts, and text files for similarity
// (plain text, or JSON lines with a "text" field), cut into windows of at most N tokens.
#include <string>
#include <vector>

#include "args.h"
#include "layerlab/model.h"

namespace layerlab::cli {

// --prompt TEXT | --ids 1,2,3 (exactly one).
struct PromptArgs {
  std::string prompt, ids;
};
void add_prompt_options(Options& o, PromptArgs& p);
// Checks that exactly one was given (no model needed).
void check_prompt_args(const Options& o);
// The ids: --ids as given (checked against the vocabulary), or --prompt tokenized with the
// model folder's tokenizer.
std::vector<int32_t> prompt_ids(const Options& o, const PromptArgs& p, const Model& model);
// Text of ids with the model folder's tokenizer.
std::string decode_text(const Model& model, const std::vector<int32_t>& ids);

// --text-file / --ids-file, --max-tokens, --limit (similarity).
struct SequenceArgs {
  std::string text_file, ids_file;
  int max_tokens = 512;
  int limit = 0;  // 0 = all
};
void add_sequence_options(Options& o, SequenceArgs& s);
void check_sequence_args(const Options& o);
// Sequences from --ids-file (one comma-separated id list per line) or --text-file
// (plain text or .jsonl with "text"), cut into windows of at most max_tokens; at most
// `limit` windows (0 = all). An input without any tokens is an error naming the file.
std::vector<std::vector<int32_t>> sequences_from_files(const SequenceArgs& s, const Model& model, int max_tokens);

}  // namespace layerlab::cli
