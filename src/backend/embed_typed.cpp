// Backend::embed_typed's default: a backend without token types takes type 0 everywhere
// (what embed() adds) and refuses any other type instead of ignoring it.
#include <algorithm>

#include "layerlab/backend.h"
#include "layerlab/error.h"

namespace layerlab {

std::unique_ptr<Hidden> Backend::embed_typed(const std::vector<int32_t>& ids, const std::vector<int32_t>& types,
                                             int batch, int tokens, int pos0) {
  if (std::any_of(types.begin(), types.end(), [](int32_t t) { return t != 0; }))
    fail("token type ids", "the " + name() + " backend embeds token type 0 only");
  return embed(ids, batch, tokens, pos0);
}

}  // namespace layerlab
