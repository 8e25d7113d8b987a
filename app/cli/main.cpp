// quench-cli: the headless tool. Exit codes: 0 success, 1 failure (one line on stderr naming
// the file/tensor/key), 2 usage error.
#include <c10/util/Exception.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <ucontext.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdlib>
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
      {"sweep", "many recipes or a chunked sensitivity analysis, here or as a Slurm job array, collected into the store", cmd_sweep},
      {"generate", "continue a prompt token by token with the decoding cache; prefill and decode tokens/s", cmd_generate},
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

namespace {
// Async-signal-safe output for the crash report.
void put(const char* s) { (void)!write(STDERR_FILENO, s, std::strlen(s)); }
void put_hex(uintptr_t v) {
  char buf[2 + 16 + 1] = "0x";
  for (int i = 0; i < 16; ++i) buf[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 0xf];
  buf[18] = 0;
  put(buf);
}

// Where the faulting instruction is: the library and the offset in it, so a crash inside code
// without unwind information (a GPU driver, generated code) still names its object file.
void put_location(const char* what, uintptr_t pc) {
  put(what);
  put_hex(pc);
  Dl_info dl{};
  if (pc && dladdr(reinterpret_cast<void*>(pc), &dl) && dl.dli_fname) {
    put(" in ");
    put(dl.dli_fname);
    put(" + ");
    put_hex(pc - reinterpret_cast<uintptr_t>(dl.dli_fbase));
    if (dl.dli_sname) {
      put(" (");
      put(dl.dli_sname);
      put(")");
    }
  }
  put("\n");
}

// A stack overflow is a SIGSEGV too; the report needs a stack of its own to be written at all.
void install_fatal_handlers(void (*handler)(int, siginfo_t*, void*)) {
  static std::vector<char> alt(1 << 16);
  stack_t ss{};
  ss.ss_sp = alt.data();
  ss.ss_size = alt.size();
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) sigaction(sig, &sa, nullptr);
  void* warm[1];
  backtrace(warm, 1);  // its first call loads the unwinder, which a signal handler must not do
}
}  // namespace

// A crash is a bug in Quench: say so and leave what a report needs — the faulting address, the
// instruction and its library, the stack — using async-signal-safe calls (dladdr aside).
extern "C" void on_fatal_signal(int sig, siginfo_t* info, void* context) {
  put("quench-cli: internal error (fatal signal ");
  const char digits[3] = {static_cast<char>('0' + sig / 10 % 10), static_cast<char>('0' + sig % 10), 0};
  put(digits);
  put("); please report it with what follows\n");
  put("fault address ");
  put_hex(reinterpret_cast<uintptr_t>(info ? info->si_addr : nullptr));
  put("\n");
#if defined(__x86_64__)
  const auto* uc = static_cast<const ucontext_t*>(context);
  put_location("instruction ", static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]));
  const auto sp = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
  put("stack pointer ");
  put_hex(sp);
  put("\n");
  // A jump to a null or wild address leaves no frame to unwind; the words on top of the stack
  // are the likeliest return addresses (the caller of a null function pointer is at [sp]).
  const char* labels[] = {"stack word 0: ", "stack word 1: ", "stack word 2: ", "stack word 3: "};
  for (int i = 0; i < 4; ++i) put_location(labels[i], reinterpret_cast<const uintptr_t*>(sp)[i]);
#else
  (void)context;
#endif
  put("stack:\n");
  void* frames[64];
  backtrace_symbols_fd(frames, backtrace(frames, 64), STDERR_FILENO);
  std::raise(sig);  // SA_RESETHAND restored the default action: die of the same signal
}

int main(int argc, char** argv) {
  install_fatal_handlers(on_fatal_signal);
  // Streamed jobs allocate blocks of changing shapes (a 14336-input Hessian after 4096-input ones):
  // growable segments keep libtorch's CUDA cache from fragmenting into a peak far above what is
  // live. A user's own setting wins; libtorch builds without CUDA ignore it.
  setenv("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True", /*overwrite=*/0);
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
