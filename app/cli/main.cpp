// quench-cli: the headless tool. Exit codes: 0 success, 1 failure (one line on stderr naming
// the file/tensor/key), 2 usage error.
#include <c10/util/Exception.h>
#include <execinfo.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <iostream>

#include "app/cli/commands.h"
#include "core/util/error.h"
#include "core/util/threads.h"

namespace quench::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"inspect", "architecture, parameters and compressible layers of a model", cmd_inspect},
      {"forward", "run a model on inputs from a safetensors file, write logits", cmd_forward},
      {"eval", "perplexity or top-1/top-5 accuracy on a text or image set", cmd_eval},
      {"calibrate", "activation and weight statistics at every observable point", cmd_calibrate},
      {"compress", "quantize a model as a recipe says, record per-layer errors, size and metrics", cmd_compress},
      {"sensitivity", "per-layer sensitivity to a setting; mixed-precision recipe under a bits budget", cmd_sensitivity},
      {"experiments", "list, show, compare, delete, rename and export stored runs", cmd_experiments},
      {"diff", "per-layer SQNR, outlier channels and perplexity of a quantized model (.gguf or dir) against its float original", cmd_diff},
      {"tokenize", "token ids of a text file, as the model's tokenizer.json gives them", cmd_tokenize},
  };
  return table;
}

}  // namespace quench::cli

namespace {
void usage(std::ostream& os) {
  os << "usage: quench-cli COMMAND [ARGS] (quench-cli COMMAND --help for details)\n\ncommands:\n";
  for (const auto& c : quench::cli::commands()) os << "  " << c.name << std::string(14 - std::string(c.name).size(), ' ') << c.summary << "\n";
}

// One line: newlines inside messages (from nested errors) become "; ".
std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\n') c = ';';
  return s;
}
}  // namespace

// A crash is a bug in Quench: say so and leave the stack for the report (async-signal-safe calls only).
extern "C" void on_fatal_signal(int sig) {
  const char* head = "quench-cli: internal error (fatal signal ";
  (void)!write(STDERR_FILENO, head, std::strlen(head));
  const char digits[3] = {static_cast<char>('0' + sig / 10 % 10), static_cast<char>('0' + sig % 10), 0};
  (void)!write(STDERR_FILENO, digits, 2);
  const char* tail = "); please report it with this stack:\n";
  (void)!write(STDERR_FILENO, tail, std::strlen(tail));
  void* frames[64];
  backtrace_symbols_fd(frames, backtrace(frames, 64), STDERR_FILENO);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

int main(int argc, char** argv) {
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, on_fatal_signal);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    usage(std::cerr);
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    usage(std::cout);
    return 0;
  }
  if (args[0] == "--version") {
    std::cout << "quench-cli " << QUENCH_VERSION << "\n";
    return 0;
  }
  for (const auto& c : quench::cli::commands()) {
    if (args[0] != c.name) continue;
    std::string threads_warning;
    quench::configure_threads(0, &threads_warning);
    if (!threads_warning.empty()) std::cerr << "quench-cli " << c.name << ": warning: " << threads_warning << "\n";
    try {
      return c.run(std::vector<std::string>(args.begin() + 1, args.end()));
    } catch (const quench::UsageError& e) {
      std::cerr << "quench-cli " << c.name << ": " << one_line(e.what()) << " (see --help)\n";
      return 2;
    } catch (const c10::Error& e) {
      // libtorch's own messages carry a C++ backtrace; users need only the first line.
      std::cerr << "quench-cli " << c.name << ": error: " << one_line(e.what_without_backtrace()) << "\n";
      return 1;
    } catch (const quench::Cancelled&) {
      std::cerr << "quench-cli " << c.name << ": cancelled\n";
      return 1;
    } catch (const std::exception& e) {
      std::cerr << "quench-cli " << c.name << ": error: " << one_line(e.what()) << "\n";
      return 1;
    }
  }
  std::cerr << "quench-cli: unknown command '" << args[0] << "' (see quench-cli --help)\n";
  return 2;
}
