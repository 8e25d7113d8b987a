#include "app/cli/args.h"

#include "core/util/error.h"

namespace quench::cli {

Args::Args(const std::vector<std::string>& argv, std::set<std::string> flags, std::set<std::string> valued,
           std::set<std::string> repeatable) {
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      help_ = true;
      continue;
    }
    if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
      std::string value;
      bool inline_value = false;
      if (auto eq = a.find('='); eq != std::string::npos) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
        inline_value = true;
      }
      const std::string name = a.substr(2);
      if (flags.count(name)) {
        if (inline_value) throw UsageError("option " + a + " takes no value");
        flags_set_.insert(name);
      } else if (valued.count(name) || repeatable.count(name)) {
        if (!inline_value) {
          if (i + 1 >= argv.size()) throw UsageError("option " + a + " needs a value");
          value = argv[++i];
        }
        if (values_.count(name) && !repeatable.count(name)) throw UsageError("option " + a + " given twice");
        values_[name].push_back(value);
      } else {
        throw UsageError("unknown option " + a);
      }
    } else {
      positional_.push_back(a);
    }
  }
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second.back();
}

std::string Args::get(const std::string& name, const std::string& fallback) const { return get(name).value_or(fallback); }

std::vector<std::string> Args::get_all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string Args::require(const std::string& name) const {
  auto v = get(name);
  if (!v) throw UsageError("missing required option --" + name);
  return *v;
}

int64_t Args::get_int(const std::string& name, int64_t fallback) const {
  auto v = get(name);
  if (!v) return fallback;
  try {
    size_t pos = 0;
    const long long x = std::stoll(*v, &pos);
    if (pos != v->size()) throw std::invalid_argument("");
    return x;
  } catch (const std::exception&) {
    throw UsageError("option --" + name + " expects an integer, got '" + *v + "'");
  }
}

double Args::get_double(const std::string& name, double fallback) const {
  auto v = get(name);
  if (!v) return fallback;
  try {
    size_t pos = 0;
    const double x = std::stod(*v, &pos);
    if (pos != v->size()) throw std::invalid_argument("");
    return x;
  } catch (const std::exception&) {
    throw UsageError("option --" + name + " expects a number, got '" + *v + "'");
  }
}

void Args::expect_positional(const std::vector<std::string>& names, size_t optional) const {
  const size_t required = names.size() - optional;
  if (positional_.size() < required) throw UsageError("missing argument " + names[positional_.size()]);
  if (positional_.size() > names.size()) throw UsageError("unexpected argument '" + positional_[names.size()] + "'");
}

uint64_t max_memory_option(const Args& a) {
  const auto v = a.get("max-memory");
  if (!v) return 0;
  const double g = a.get_double("max-memory", 0);
  // 2^20 GiB (a petabyte) bounds the conversion to bytes.
  if (!(g > 0) || g > double(1 << 20)) throw UsageError("--max-memory must be a positive number of GiB, got '" + *v + "'");
  return static_cast<uint64_t>(g * double(uint64_t(1) << 30));
}

const char* const kMaxMemoryHelp =
    "  --max-memory GIB  what the weights may take on the compute device; a larger model is streamed from its\n"
    "                    checkpoint one block at a time (same results, more time), one whose largest block\n"
    "                    does not fit is refused before any work. The plan is printed on stderr.\n";

}  // namespace quench::cli
