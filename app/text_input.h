#pragma once
// Turning user text into token ids for the CLI: prompts, and text files for similarity
// (plain text, or JSON lines with a "text" field), cut into windows of at most N tokens.
#include <string>
#include <vector>

#include "args.h"
#include "layerlab/model.h"
#include "layerlab/tokenizer.h"

namespace layerlab::cli {

// --add-bos / --no-add-bos, on every command that reads text: override the model's BOS policy
// (layerlab/bos_policy.h; `layerlab info` states it).
struct BosArgs {
  bool add = false, no = false;
};
void add_bos_options(Options& o, BosArgs& b);
// Before the model loads: not both; `ids_flag` (e.g. "--ids") when the input is ids, which
// are used as given, so the flags would change nothing.
void check_bos_args(const Options& o, const std::string& ids_flag = "");
// The policy of the model at `model_path`, or the flag's; --add-bos with a tokenizer that has
// no BOS (or BERT's, whose inputs start with [CLS]) is an Error.
bool resolve_add_bos(const Options& o, const BosArgs& b, const std::string& model_path, const Tokenizer& tok);

// --prompt TEXT | --ids 1,2,3 (exactly one).
struct PromptArgs {
  std::string prompt, ids;
  BosArgs bos;
};
void add_prompt_options(Options& o, PromptArgs& p);
// Checks that exactly one was given (no model needed).
void check_prompt_args(const Options& o);
// The ids: --ids as given (checked against the vocabulary), or --prompt tokenized with the
// model folder's tokenizer, BOS first as the model's policy or the flags say.
std::vector<int32_t> prompt_ids(const Options& o, const PromptArgs& p, const Model& model);
// Text of ids with the model folder's tokenizer.
std::string decode_text(const Model& model, const std::vector<int32_t>& ids);

// --text-file / --ids-file, --max-tokens, --limit, --max-windows (similarity). --limit counts
// documents (JSONL records, or lines of --ids-file), as eval's --limit does.
struct SequenceArgs {
  std::string text_file, ids_file;
  int max_tokens = 512;
  int limit = 0;        // documents, 0 = all
  int max_windows = 0;  // windows of max_tokens, 0 = all
  BosArgs bos;          // --text-file: BOS before every document as the policy or the flags say
};
void add_sequence_options(Options& o, SequenceArgs& s);
void check_sequence_args(const Options& o);
// Sequences from --ids-file (one comma-separated id list per line) or --text-file
// (plain text or .jsonl with "text"): the first `limit` documents, cut into windows of at
// most max_tokens, at most `max_windows` of them. An input without any tokens is an error
// naming the file.
std::vector<std::vector<int32_t>> sequences_from_files(const Options& o, const SequenceArgs& s, const Model& model,
                                                       int max_tokens);

}  // namespace layerlab::cli
