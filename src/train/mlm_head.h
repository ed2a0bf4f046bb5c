#pragma once
// BertForMaskedLM's head (cls.predictions: dense + exact GELU + LayerNorm, then the decoder
// tied to the word embeddings plus an output bias) with its backward, and BERT's masking
// (Hugging Face DataCollatorForLanguageModeling: each non-special token chosen with
// probability `rate`; of the chosen, 80% become [MASK], 10% a random token, 10% stay).
// Templated on float / double: the float64 copy is checked against finite differences.
#include <cstdint>
#include <random>
#include <vector>

#include "layerlab/train.h"

namespace layerlab::finetune {

// cls.predictions.transform.dense.{weight,bias}, cls.predictions.transform.LayerNorm.{weight,bias},
// cls.predictions.bias (the decoder weight is bert.embeddings.word_embeddings.weight).
std::vector<train::TensorSpec> mlm_head_layout(int d_model, int vocab, int64_t offset0 = 0);

template <class T>
class MlmHead {
 public:
  MlmHead(int d_model, int vocab, double norm_eps);
  const std::vector<train::TensorSpec>& layout() const { return layout_; }
  // Sum over the chosen positions `pos` (rows of the hidden states h [n, d]) of the
  // cross-entropy of `target`. With grads (head_g, wte_g, dh all given), accumulates
  // scale * d sum / d params into head_g (this head's layout) and wte_g (the tied [vocab, d]
  // word embeddings), and writes dh [n, d] (zero on rows not chosen).
  double loss(const T* head_p, const T* wte, const T* h, int n, const std::vector<int>& pos,
              const std::vector<int32_t>& target, double scale, T* head_g, T* wte_g, T* dh);

 private:
  int d_, V_;
  double eps_;
  std::vector<train::TensorSpec> layout_;
};
extern template class MlmHead<float>;
extern template class MlmHead<double>;

struct Masked {
  std::vector<int32_t> ids;     // the input after masking
  std::vector<int> positions;   // chosen positions, ascending
  std::vector<int32_t> targets; // their original tokens
};
// `special[i]`: never chosen ([CLS], [SEP], padding). Random replacements are uniform over
// [0, vocab), as the collator's torch.randint(len(tokenizer)).
Masked mask_tokens(const std::vector<int32_t>& ids, const std::vector<bool>& special, int32_t mask_id, int vocab,
                   double rate, std::mt19937_64& rng);

}  // namespace layerlab::finetune
