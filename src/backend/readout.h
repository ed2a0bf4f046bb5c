#pragma once
// The host log-softmax that every read-out shares (Backend::target_scores' default, the
// explainer's top tokens): one place for "log p of a target, and is it the argmax".
#include <cstdint>

#include "layerlab/backend.h"

namespace layerlab {

// log_softmax(row)[target] (sum in double) and whether target is the row's first maximum.
TargetScore log_softmax_at(const float* row, int vocab, int32_t target);

}  // namespace layerlab
