#pragma once
// One line per layer setting, the same in `quench-cli compress --plan` and the GUI's layer table:
// "W4 sym g128 gptq, A8 dynamic token, hadamard", or the plan's status when nothing is compressed.
#include <string>

#include "core/compress/recipe.h"

namespace quench {

std::string setting_text(const LayerPlan& p);

}  // namespace quench
