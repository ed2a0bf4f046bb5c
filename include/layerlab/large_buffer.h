#pragma once
// Large float buffers (logits, activations) that are filled once per call.
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <vector>

namespace layerlab {

// Makes v n floats (zeros; earlier contents are not kept), asking the kernel for transparent huge pages first when the buffer is large: a
// fresh [tokens, vocab] logits matrix otherwise costs one page fault per 4 KiB as it is filled
// (about a fifth of a 512-token GPT-2-124M pass on a virtual machine). A no-op hint where huge
// pages are off.
void resize_large(std::vector<float>& v, size_t n);

// An uninitialised float array for data written once (model weights): no zero fill, and
// transparent huge pages when large, so filling a 7B model's weights does not take millions
// of 4 KiB page faults.
class FloatArray {
 public:
  FloatArray() = default;
  explicit FloatArray(size_t n);  // throws std::bad_alloc when the memory is not there
  float* data() const { return p_.get(); }
  size_t size() const { return n_; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> p_;
  size_t n_ = 0;
};

}  // namespace layerlab
