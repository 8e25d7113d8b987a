#include "core/store/process.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace quench {

namespace {
std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}
}  // namespace

std::optional<int64_t> process_start_ticks(int64_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  // Field 2 (comm) is parenthesised and may itself hold spaces and parentheses: split after the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> f;
  for (std::string tok; rest >> tok;) f.push_back(tok);
  // f[0] is field 3 (state), so field 22 (starttime) is f[19].
  if (f.size() < 20) return std::nullopt;
  if (f[0] == "Z" || f[0] == "X" || f[0] == "x") return std::nullopt;
  try {
    return std::stoll(f[19]);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

ProcessIdentity current_process() {
  ProcessIdentity p;
  p.host = host_name();
  p.boot_id = read_line("/proc/sys/kernel/random/boot_id");
  p.pid = ::getpid();
  p.start_ticks = process_start_ticks(p.pid).value_or(0);
  return p;
}

OwnerState owner_state(const ProcessIdentity& owner) {
  const ProcessIdentity me = current_process();
  if (owner.host != me.host) return OwnerState::OtherHost;
  // Same host, another boot: every process of that boot is gone.
  if (!owner.boot_id.empty() && !me.boot_id.empty() && owner.boot_id != me.boot_id) return OwnerState::Gone;
  const auto start = process_start_ticks(owner.pid);
  return start && *start == owner.start_ticks ? OwnerState::Alive : OwnerState::Gone;
}

}  // namespace quench
