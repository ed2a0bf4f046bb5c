#pragma once
// Large float buffers (logits, activations) that are filled once per call.
#include <cstddef>
#include <vector>

namespace layerlab {

// Makes v n floats (zeros; earlier contents are not kept), asking the kernel for transparent huge pages first when the buffer is large: a
// fresh [tokens, vocab] logits matrix otherwise costs one page fault per 4 KiB as it is filled
// (about a fifth of a 512-token GPT-2-124M pass on a virtual machine). A no-op hint where huge
// pages are off.
void resize_large(std::vector<float>& v, size_t n);

}  // namespace layerlab
