#pragma once
// Each command declares its options once — name, value name, help, default, what they exclude or
// need — through CLI11, which parses them and writes --help from the declarations. Usage errors
// (exit code 2) name the offending argument in Quench's words; the command reads values back by
// name ("ctx" for --ctx), a declared default standing in for an option not given.
#include <CLI/App.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace quench::cli {

class Args {
 public:
  // summary: the first line of --help; the usage line is "usage: quench-cli COMMAND ...".
  Args(const std::string& command, const std::string& summary);
  ~Args();
  Args(const Args&) = delete;
  Args& operator=(const Args&) = delete;

  // A positional argument; optional ones come last.
  CLI::Option* positional(const std::string& name, const std::string& help, bool required = true);
  // --name VALUE; default_value is shown in --help and returned by get() when the option is absent.
  CLI::Option* option(const std::string& name, const std::string& value_name, const std::string& help,
                      const std::string& default_value = "");
  // --name VALUE, given any number of times (get_all).
  CLI::Option* repeated(const std::string& name, const std::string& value_name, const std::string& help);
  // --name, without a value.
  CLI::Option* flag(const std::string& name, const std::string& help);
  // At most one of these options; with required, exactly one ("give exactly one of ..." otherwise).
  void one_of(const std::vector<std::string>& names, bool required, const std::string& what = "");
  // The declaration of --name (or of a positional), for CLI11's own relations (needs, excludes).
  CLI::Option* declared(const std::string& name) const { return find(name); }
  // Prose after the option list: what the command does in more words, output formats.
  void footer(const std::string& text);

  // Parses argv (without the command name). False when --help was asked for: the help is printed
  // on stdout and the command returns 0. Throws UsageError otherwise.
  bool parse(const std::vector<std::string>& argv);
  std::string help() const;

  bool flag(const std::string& name) const;
  bool given(const std::string& name) const;
  // The value given, else the declared default, else nullopt.
  std::optional<std::string> get(const std::string& name) const;
  std::string get(const std::string& name, const std::string& fallback) const;
  std::vector<std::string> get_all(const std::string& name) const;
  // The value (or default); a UsageError naming the option when there is neither.
  std::string require(const std::string& name) const;
  int64_t get_int(const std::string& name) const;
  int64_t get_int(const std::string& name, int64_t fallback) const;
  double get_double(const std::string& name) const;
  double get_double(const std::string& name, double fallback) const;
  // The positional arguments given, in order.
  const std::vector<std::string>& positional() const { return positional_values_; }

 private:
  CLI::Option* find(const std::string& name) const;
  CLI::Option* find_option_no_throw(const std::string& name) const;

  std::string command_;
  std::unique_ptr<CLI::App> app_;
  std::vector<CLI::Option*> positionals_;
  std::vector<std::string> positional_values_;  // filled by parse()
  struct OneOf {
    std::vector<std::string> names;
    bool required;
    std::string what;
  };
  std::vector<OneOf> one_ofs_;
};

// --device and --dtype as every command that runs a model takes them.
void add_device_options(Args& a);
// --max-memory GIB as bytes (0 when not given): what the model's weights may take on the compute
// device before eval, calibrate and forward stream it one block at a time.
void add_max_memory_option(Args& a);
uint64_t max_memory_option(const Args& a);

}  // namespace quench::cli
