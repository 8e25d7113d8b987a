#pragma once
// Which observable points a calibration keeps statistics for: a comma-separated list of glob
// patterns, "*" (any run of characters, '.' and ':' included) and "?" (one character), matched
// against the whole point name. "*" is every point; "model.layers.*.mlp.*" an MLP's inputs and
// outputs; "*:x,*:y" Mamba's scan input and output; "*self_attn:k,*self_attn:v" the KV cache.
#include <string>
#include <vector>

namespace quench {

class PointPattern {
 public:
  // Throws UsageError for an empty list or an empty pattern in it.
  explicit PointPattern(const std::string& patterns);
  bool matches(const std::string& point) const;
  const std::vector<std::string>& patterns() const { return patterns_; }
  std::string str() const;  // as given, normalised: "a,b"

 private:
  std::vector<std::string> patterns_;
};

// Whether `text` matches the glob `pattern` as a whole.
bool glob_match(const std::string& pattern, const std::string& text);

}  // namespace quench
