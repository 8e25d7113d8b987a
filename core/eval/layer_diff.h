#pragma once
// What compression did to each layer: a compressed model (a GGUF file, a compressed-tensors
// checkpoint, any checkpoint) against its float original, matched by Hugging Face layer name.
// quench-cli diff prints it; the window's "Compare with Float Model" shows it beside each layer.
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace quench {

class Layer;
class Model;
class GgufFile;
class CtDecoder;

struct ChannelError {
  int64_t channel = 0;
  double share = 0;    // of the layer's squared error
  double abs_max = 0;  // the channel's largest |w| in the float model
};

struct LayerDiff {
  std::string layer, type;  // type: how the compressed layer is stored ("Q4_K", "int4 g128 asym"); "" when plain
  std::vector<int64_t> shape;
  double signal = 0, error = 0;     // Σw², Σ(w−ŵ)² over the whole weight
  std::vector<float> channel_error;  // [input channels] Σ(w−ŵ)² of each column
  std::vector<ChannelError> worst;   // the columns holding the largest share of the error, largest first
  bool exact() const { return error == 0; }
  double sqnr_db() const;  // +inf when exact
  double rel_mse() const;
};

// Throws, naming the layer, when the shapes differ. `top`: how many worst channels to keep.
LayerDiff diff_layer(const Layer& original, const Layer& compressed, int64_t top);

// How each layer of a compressed model is stored, read from its file's headers.
class StoredTypes {
 public:
  // path: what `compressed` was loaded from (a .gguf file or a checkpoint directory).
  StoredTypes(const std::string& path, const Model& compressed);
  ~StoredTypes();
  // Whether the format stores types worth a column (GGUF, compressed-tensors).
  bool known() const { return gguf_ || ct_; }
  std::string of(const std::string& layer) const;

 private:
  const Model& model_;
  std::unique_ptr<GgufFile> gguf_;
  std::string arch_;
  std::shared_ptr<const CtDecoder> ct_;
};

}  // namespace quench
