// `layerlab serve` in a build without the explainer server (-DLAYERLAB_SERVER=OFF).
#include "commands.h"
#include "layerlab/error.h"

namespace layerlab::cli {

int cmd_serve(const Argv&) {
  throw Error(
      "this build has no explainer server (configured with -DLAYERLAB_SERVER=OFF); install cpp-httplib "
      "(bash scripts/deps.sh) and rebuild with -DLAYERLAB_SERVER=ON");
}

}  // namespace layerlab::cli
