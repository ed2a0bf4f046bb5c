#pragma once
// Internal helpers shared by the task implementations.
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "layerlab/eval.h"

namespace layerlab::evalimpl {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Items scored per score_sequences call: large enough to fill batches, small enough for
// a lively progress bar and bounded memory.
constexpr size_t kItemsPerChunk = 64;

// The context length a task may use: the model's positions, or --window if smaller.
int context_length(const ModelConfig& cfg, int window);

// Chunk bounds 0, chunk, 2 chunk, ..., n.
std::vector<size_t> fixed_chunks(size_t n, size_t chunk);

// How a task's items are run in chunks (bounds: 0 = b0 < b1 < ... = n, fixed by the data, so
// a resumed run batches exactly as an uninterrupted one).
struct ChunkPlan {
  std::vector<size_t> bounds;
  // [plan][item - b] for the items [b, e).
  std::function<std::vector<std::vector<ItemRecord>>(size_t b, size_t e)> score;
  std::function<int64_t(size_t i)> tokens;   // tokens run for item i (progress)
  std::function<int64_t(size_t i)> items;    // items item i counts as (mlm: its masked tokens); default 1
  std::function<size_t(size_t i)> n_values;  // values item i's record holds (checks resumed records)
};
// Runs every chunk (or takes it from hooks.resumed when all its items are there) and returns
// the records [plan][item], reporting progress and each scored chunk to the hooks.
std::vector<std::vector<ItemRecord>> run_chunks(const ChunkPlan& cp, size_t n_plans, const EvalHooks& hooks);

Metric mean_metric(const std::string& name, const std::vector<double>& xs);

std::unique_ptr<Task> make_lambada_task(const std::string& path, const TextCodec& codec, const ModelConfig& cfg,
                                        const TaskOptions& opts);
std::unique_ptr<Task> make_choice_task(const std::string& name, const std::string& path, const TextCodec& codec,
                                       const ModelConfig& cfg, const TaskOptions& opts);
std::unique_ptr<Task> make_perplexity_task(const std::string& path, const TextCodec& codec, const ModelConfig& cfg,
                                           const TaskOptions& opts);
std::unique_ptr<Task> make_mlm_task(const std::string& path, const TextCodec& codec, const ModelConfig& cfg,
                                    const TaskOptions& opts);
std::unique_ptr<Task> make_gsm8k_task(const std::string& path, const TextCodec& codec, const ModelConfig& cfg,
                                      const TaskOptions& opts);

}  // namespace layerlab::evalimpl
