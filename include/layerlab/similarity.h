#pragma once
// Mean cosine similarity between the hidden states after every pair of plan steps
// ("Transformer Layers as Painters", Fig. 2), averaged over tokens and texts.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "layerlab/runner.h"

namespace layerlab {

struct SimilarityResult {
  std::vector<std::string> labels;          // "emb", then "1:L7" (step 1 ran layer 7), "2:[4-9]x3", ...
  std::vector<std::vector<double>> matrix;  // [labels, labels], symmetric, 1 on the diagonal
  int64_t tokens = 0;                       // tokens averaged over
  int texts = 0;
};

// Index 0 is the embedding output; index k the residual stream after step k.
// `on_text(i)` is called after each text (progress).
SimilarityResult layer_similarity(Runner& runner, const Plan& plan, const std::vector<std::vector<int32_t>>& texts,
                                  const std::function<void(int)>& on_text = {});

std::string similarity_to_csv(const SimilarityResult& r);
std::string similarity_to_json(const SimilarityResult& r);  // {"labels", "matrix", "tokens", "texts"}
// A heatmap with axis labels and a colour bar with round ticks. Colours span [vmin, vmax]; NaN
// takes them from the data (the lowest value, 1); values outside a fixed range are clamped.
std::string similarity_to_svg(const SimilarityResult& r, const std::string& title, double vmin = NAN, double vmax = NAN);

}  // namespace layerlab
