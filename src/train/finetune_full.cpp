// Full fine-tuning (backward through the encoder under the plan): not built yet.
#include "layerlab/error.h"
#include "train/finetune_engine.h"

namespace layerlab::finetune {

std::unique_ptr<Engine> make_full_engine(Runner&, const Options&, const glue::TaskSpec&, const std::vector<glue::Encoded>&,
                                         const std::vector<glue::Encoded>&) {
  fail("finetune", "full fine-tuning (backward through the encoder) is not built yet: use --head-only");
}

}  // namespace layerlab::finetune
