#include "app/cli/args.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <sstream>

#include "core/util/error.h"

namespace quench::cli {

namespace {

// CLI11's layout, with the usage line Quench's tests and users know ("usage: quench-cli eval ...")
// and each option as "--ctx N   help (default 256)", the help wrapped to the terminal's usual width.
class Formatter : public CLI::Formatter {
 public:
  explicit Formatter(std::string command) : command_(std::move(command)) { column_width(kColumn); }
  std::string make_usage(const CLI::App* app, std::string) const override {
    std::string out = "usage: quench-cli " + command_;
    for (const CLI::Option* o : app->get_options([](const CLI::Option* o) { return o->get_positional(); }))
      out += o->get_required() ? " " + o->get_name() : " [" + o->get_name() + "]";
    for (const CLI::Option* o : app->get_options([](const CLI::Option* o) { return !o->get_positional() && o->get_required(); }))
      out += " " + o->get_name(false, true) + " " + o->get_type_name();
    // The usage line first, then what the command does (CLI11 puts the description above it).
    return out + " [OPTIONS]\n\n" + app->get_description() + "\n";
  }
  std::string make_description(const CLI::App*) const override { return ""; }
  std::string make_option(const CLI::Option* o, bool positional) const override {
    std::string left = positional ? o->get_name() : o->get_name(false, true);
    if (!positional && !o->get_type_name().empty() && o->get_expected_min() > 0) left += " " + o->get_type_name();
    std::string desc = o->get_description();
    if (!positional && o->get_required()) desc += " (required)";
    if (!o->get_default_str().empty()) desc += " (default " + o->get_default_str() + ")";
    if (o->get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll) desc += " (repeatable)";
    std::stringstream out;
    CLI::detail::format_help(out, left, wrap(desc, kWidth - kColumn), kColumn);
    return out.str();
  }

 private:
  static constexpr size_t kColumn = 30, kWidth = 110;
  static std::string wrap(const std::string& text, size_t width) {
    std::string out, line;
    std::istringstream words(text);
    for (std::string w; words >> w;) {
      if (!line.empty() && line.size() + 1 + w.size() > width) {
        out += line + "\n";
        line.clear();
      }
      line += (line.empty() ? "" : " ") + w;
    }
    return out + line;
  }
  std::string command_;
};

std::string dashed(const std::string& name) { return name.rfind("-", 0) == 0 ? name : "--" + name; }

// CLI11 reports "--out: 1 required FILE missing" and "--ctx: At Most 1 required but received 2";
// Quench says which option and what is wrong in its own words.
[[noreturn]] void rethrow(const CLI::ParseError& e) {
  const std::string what = e.what();
  const auto colon = what.find(':');
  const std::string name = colon == std::string::npos ? "" : what.substr(0, colon);
  if (dynamic_cast<const CLI::RequiredError*>(&e)) {
    const auto is = what.find(" is required");
    if (is != std::string::npos && what.find(' ') == is) {
      const std::string n = what.substr(0, is);
      throw UsageError(n.rfind("-", 0) == 0 ? "missing required option " + n : "missing argument " + n);
    }
  }
  if (dynamic_cast<const CLI::ExcludesError*>(&e)) {
    if (const auto at = what.find(" excludes "); at != std::string::npos)
      throw UsageError(what.substr(0, at) + " and " + what.substr(at + 10) + " exclude each other");
  }
  if (dynamic_cast<const CLI::RequiresError*>(&e)) {
    if (const auto at = what.find(" requires "); at != std::string::npos)
      throw UsageError(what.substr(0, at) + " needs " + what.substr(at + 10));
  }
  if (const auto at = what.find(" was given a disallowed flag override"); at != std::string::npos)
    throw UsageError("option " + dashed(what.substr(0, at)) + " takes no value");
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) && !name.empty()) {
    if (what.find("missing") != std::string::npos) throw UsageError("option " + name + " needs a value");
    if (what.find("received") != std::string::npos) throw UsageError("option " + name + " given twice");
  }
  throw UsageError(what);
}

}  // namespace

Args::Args(const std::string& command, const std::string& summary)
    : command_(command), app_(std::make_unique<CLI::App>(summary, "quench-cli " + command)) {
  app_->formatter(std::make_shared<Formatter>(command));
  // Unknown options and surplus arguments are collected and named by parse(), not by CLI11.
  app_->allow_extras();
  app_->set_help_flag("-h,--help", "this help");
}

Args::~Args() = default;

CLI::Option* Args::positional(const std::string& name, const std::string& help, bool required) {
  auto* o = app_->add_option(name, help);
  o->type_name("");
  if (required) o->required();
  positionals_.push_back(o);
  return o;
}

CLI::Option* Args::option(const std::string& name, const std::string& value_name, const std::string& help,
                          const std::string& default_value) {
  auto* o = app_->add_option(dashed(name), help);
  o->type_name(value_name);
  if (!default_value.empty()) o->default_str(default_value);
  return o;
}

CLI::Option* Args::repeated(const std::string& name, const std::string& value_name, const std::string& help) {
  auto* o = app_->add_option(dashed(name), help);
  o->type_name(value_name);
  o->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  return o;
}

CLI::Option* Args::flag(const std::string& name, const std::string& help) {
  auto* o = app_->add_flag(dashed(name), help);
  o->disable_flag_override();
  return o;
}

void Args::one_of(const std::vector<std::string>& names, bool required, const std::string& what) {
  for (size_t i = 0; i < names.size(); ++i)
    for (size_t j = 0; j < names.size(); ++j)
      if (i != j) find(names[i])->excludes(find(names[j]));
  one_ofs_.push_back({names, required, what});
}

void Args::footer(const std::string& text) { app_->footer(text); }

std::string Args::help() const { return app_->help(); }

bool Args::parse(const std::vector<std::string>& argv) {
  // CLI11 wants the arguments last to first.
  std::vector<std::string> reversed(argv.rbegin(), argv.rend());
  try {
    app_->parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << help();
    return false;
  } catch (const CLI::ParseError& e) {
    rethrow(e);
  }
  for (const std::string& extra : app_->remaining()) {
    if (extra == "--") continue;  // what follows it went to the positionals; CLI11 leaves the marker here
    if (extra.size() > 1 && extra[0] == '-') {
      if (auto eq = extra.find('='); eq != std::string::npos && find_option_no_throw(extra.substr(0, eq)))
        throw UsageError("option " + extra.substr(0, eq) + " takes no value");
      throw UsageError("unknown option " + extra);
    }
    throw UsageError("unexpected argument '" + extra + "'");
  }
  for (const CLI::Option* p : positionals_)
    if (p->count() > 0) positional_values_.push_back(p->results().front());
  for (const auto& group : one_ofs_) {
    if (!group.required) continue;
    bool any = false;
    for (const auto& n : group.names) any = any || given(n);
    if (any) continue;
    std::string list;
    for (size_t i = 0; i < group.names.size(); ++i)
      list += (i == 0 ? "" : i + 1 == group.names.size() ? " or " : ", ") + dashed(group.names[i]);
    throw UsageError("give exactly one of " + (group.what.empty() ? list : group.what));
  }
  return true;
}

CLI::Option* Args::find_option_no_throw(const std::string& name) const {
  return app_->get_option_no_throw(name);
}

CLI::Option* Args::find(const std::string& name) const {
  for (CLI::Option* p : positionals_)
    if (p->get_name() == name) return p;
  CLI::Option* o = app_->get_option_no_throw(dashed(name));
  // A name no declaration has is a bug in the command, not the user's mistake.
  if (!o) throw std::logic_error("quench-cli " + command_ + ": option " + dashed(name) + " is not declared");
  return o;
}

bool Args::flag(const std::string& name) const { return find(name)->count() > 0; }

bool Args::given(const std::string& name) const { return find(name)->count() > 0; }

std::optional<std::string> Args::get(const std::string& name) const {
  const CLI::Option* o = find(name);
  if (o->count() > 0) return o->results().back();
  if (!o->get_default_str().empty()) return o->get_default_str();
  return std::nullopt;
}

std::string Args::get(const std::string& name, const std::string& fallback) const { return get(name).value_or(fallback); }

std::vector<std::string> Args::get_all(const std::string& name) const { return find(name)->results(); }

std::string Args::require(const std::string& name) const {
  auto v = get(name);
  if (!v) throw UsageError("missing required option " + dashed(name));
  return *v;
}

namespace {
int64_t to_int(const std::string& name, const std::string& v) {
  try {
    size_t pos = 0;
    const long long x = std::stoll(v, &pos);
    if (pos != v.size()) throw std::invalid_argument("");
    return x;
  } catch (const std::exception&) {
    throw UsageError("option " + dashed(name) + " expects an integer, got '" + v + "'");
  }
}
double to_double(const std::string& name, const std::string& v) {
  try {
    size_t pos = 0;
    const double x = std::stod(v, &pos);
    if (pos != v.size()) throw std::invalid_argument("");
    return x;
  } catch (const std::exception&) {
    throw UsageError("option " + dashed(name) + " expects a number, got '" + v + "'");
  }
}
}  // namespace

int64_t Args::get_int(const std::string& name) const { return to_int(name, require(name)); }

int64_t Args::get_int(const std::string& name, int64_t fallback) const {
  auto v = get(name);
  return v ? to_int(name, *v) : fallback;
}

double Args::get_double(const std::string& name) const { return to_double(name, require(name)); }

double Args::get_double(const std::string& name, double fallback) const {
  auto v = get(name);
  return v ? to_double(name, *v) : fallback;
}

void add_device_options(Args& a) {
  a.option("device", "cpu|cuda[:N]", "where the model runs", "cpu");
  a.option("dtype", "float32|float16|bfloat16", "the dtype weights and activations are computed in", "float32");
}

void add_max_memory_option(Args& a) {
  a.option("max-memory", "GIB",
           "what the weights may take on the compute device; a larger model is streamed from its checkpoint one block "
           "at a time (same results, more time), one whose largest block does not fit is refused before any work. "
           "The plan is printed on stderr");
}

uint64_t max_memory_option(const Args& a) {
  const auto v = a.get("max-memory");
  if (!v) return 0;
  const double g = a.get_double("max-memory");
  // 2^20 GiB (a petabyte) bounds the conversion to bytes.
  if (!(g > 0) || g > double(1 << 20)) throw UsageError("--max-memory must be a positive number of GiB, got '" + *v + "'");
  return static_cast<uint64_t>(g * double(uint64_t(1) << 30));
}

}  // namespace quench::cli
