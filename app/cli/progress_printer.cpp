#include "app/cli/progress_printer.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace quench::cli {

Progress terminal_progress(const std::string& label) {
  if (!isatty(2)) return {};
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  return [label, last](int64_t done, int64_t total, double eta, const std::string& msg) {
    const auto now = std::chrono::steady_clock::now();
    if (done < total && now - *last < std::chrono::milliseconds(200)) return true;
    *last = now;
    char line[256];
    if (total > 0)
      std::snprintf(line, sizeof line, "\r%s: %s %lld/%lld (%.0f%%)%s", label.c_str(), msg.c_str(),
                    static_cast<long long>(done), static_cast<long long>(total), 100.0 * done / total,
                    eta >= 0 ? (" ETA " + std::to_string(static_cast<int>(eta)) + " s   ").c_str() : "   ");
    else
      std::snprintf(line, sizeof line, "\r%s: %s %lld   ", label.c_str(), msg.c_str(), static_cast<long long>(done));
    std::fputs(line, stderr);
    if (total > 0 && done >= total) std::fputs("\n", stderr);
    return true;
  };
}

}  // namespace quench::cli
