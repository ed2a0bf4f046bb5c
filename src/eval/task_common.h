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

// Calls fn(begin, end) over [0, n) in chunks, reporting progress after each.
void for_chunks(size_t n, size_t chunk, const std::function<void(size_t, size_t)>& fn,
                const std::function<void(int64_t)>& on_items);

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
