#pragma once
// A one-line progress display on stderr, only when stderr is a terminal (scripts and tests see
// clean output). Ctrl-C is not intercepted: the process simply ends, and what it records is
// marked interrupted by the store.
#include <string>

#include "core/util/progress.h"

namespace quench::cli {

Progress terminal_progress(const std::string& label);

}  // namespace quench::cli
