#pragma once
// Number and table formatting for the CLI's human-readable output.
#include <cstdint>
#include <string>
#include <vector>

namespace quench::cli {

std::string with_commas(int64_t n);
std::string human_bytes(uint64_t n);
std::string shape_string(const std::vector<int64_t>& s);
std::string fixed(double v, int decimals);

// Left-aligned columns; numeric columns right-aligned when marked.
class Table {
 public:
  explicit Table(std::vector<std::string> header, std::vector<bool> right_align = {});
  void add(std::vector<std::string> row);
  std::string str() const;

 private:
  std::vector<std::string> header_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace quench::cli
