#pragma once
// The host log-softmax that every read-out shares (Backend::target_scores' default, the
// explainer's top tokens): one place for "log p of a target, and is it the argmax".
#include <cstdint>
#include <string>
#include <vector>

#include "layerlab/backend.h"

namespace layerlab {

// log_softmax(row)[target] (sum in double) and whether target is the row's first maximum.
TargetScore log_softmax_at(const float* row, int vocab, int32_t target);

// The indices i with targets[i] >= 0, sorted by rows[i], after checking each row lies in the
// Hidden and each target in the vocabulary (Error naming `where` otherwise): the order in
// which every target_scores reads consecutive rows.
std::vector<size_t> target_order(const Hidden& normed, const std::vector<int64_t>& rows,
                                 const std::vector<int32_t>& targets, int vocab, const std::string& where);

}  // namespace layerlab
