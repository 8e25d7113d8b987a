#include "core/text/regex.h"

#include "core/text/unicode.h"
#include "core/util/error.h"

#ifdef QUENCH_WITH_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif

namespace quench::text {

#ifdef QUENCH_WITH_PCRE2

struct Regex::Code {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Code() { pcre2_code_free(code); }
};

namespace {
struct MatchData {
  pcre2_match_data* md;
  explicit MatchData(const pcre2_code* code) : md(pcre2_match_data_create_from_pattern(code, nullptr)) {
    QUENCH_CHECK(md, "regex: out of memory creating match data");
  }
  ~MatchData() { pcre2_match_data_free(md); }
  MatchData(const MatchData&) = delete;
  MatchData& operator=(const MatchData&) = delete;
};
struct JitStack {
  pcre2_jit_stack* stack;
  pcre2_match_context* ctx;
  JitStack() : stack(pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr)), ctx(pcre2_match_context_create(nullptr)) {
    QUENCH_CHECK(stack && ctx, "regex: out of memory creating the JIT stack");
    pcre2_jit_stack_assign(ctx, nullptr, stack);
  }
  ~JitStack() {
    pcre2_match_context_free(ctx);
    pcre2_jit_stack_free(stack);
  }
  JitStack(const JitStack&) = delete;
  JitStack& operator=(const JitStack&) = delete;
};
std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}
}  // namespace

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  int err = 0;
  PCRE2_SIZE off = 0;
  auto code = std::make_shared<Code>();
  code->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
  if (!code->code) fail("regex '", pattern, "': ", pcre2_message(err), " at offset ", off);
  // Without JIT (some platforms) the interpreter gives the same matches, only slower.
  code->jit = pcre2_jit_compile(code->code, PCRE2_JIT_COMPLETE) == 0;
  code_ = std::move(code);
}

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view s) const {
  std::vector<std::pair<size_t, size_t>> out;
  MatchData md(code_->code);
  // One JIT stack per thread, reused: creating one costs more than matching a short text.
  thread_local JitStack jit;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t start = 0;
  while (start <= s.size()) {
    const int rc = pcre2_match(code_->code, subject, s.size(), start, PCRE2_NO_UTF_CHECK, md.md, jit.ctx);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) fail("regex '", pattern_, "': matching failed: ", pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.md);
    const size_t b = ov[0], e = ov[1];
    out.emplace_back(b, e);
    if (e > b) {
      start = e;
    } else {
      if (e >= s.size()) break;
      start = e + utf8_len(static_cast<unsigned char>(s[e]));
    }
  }
  return out;
}

bool have_general_regex() { return true; }

#else

struct Regex::Code {};

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  fail("regex '", pattern, "': this build of Quench has no PCRE2, so only the GPT-2, Llama-3 and Qwen2 split "
       "patterns are available (install libpcre2-dev and rebuild)");
}

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view) const { return {}; }

bool have_general_regex() { return false; }

#endif

}  // namespace quench::text
