#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/format.h"
#include "core/export/gguf_import.h"
#include "core/io/gguf.h"
#include "core/models/registry.h"

namespace quench::cli {

namespace {
std::string torch_dtype_name(const std::string& st) {
  if (st == "F32") return "float32";
  if (st == "F16") return "float16";
  if (st == "BF16") return "bfloat16";
  if (st == "F64") return "float64";
  return st;
}
// Tensors per ggml type of a GGUF file, as llama.cpp's quantizer or Quench's exporter chose them.
std::map<std::string, int> gguf_types(const std::string& path) {
  std::map<std::string, int> n;
  for (const auto& t : GgufFile(path).tensors()) ++n[ggml_type_code_name(t.type_code)];
  return n;
}
}  // namespace

int cmd_inspect(const Argv& argv) {
  Args a("inspect",
         "Prints the architecture, parameter count, stored dtype and one row per compressible layer (name, kind, weight\n"
         "shape, parameters). Reads only config.json and the safetensors headers.");
  a.positional("MODEL_DIR", "a model folder, or a .gguf file: described as stored (its size, and how many tensors hold each "
                            "ggml type); its layers are those of the float checkpoint it is converted into on first open");
  a.flag("json", "one JSON object: {\"architecture\", \"parameters\", \"dtype\", \"layers\": [{\"name\", \"kind\", \"shape\", "
                 "\"parameters\"}]} (a .gguf adds \"gguf_types\": {\"Q4_K\": tensors, ...})");
  if (!a.parse(argv)) return 0;
  LoadOptions opts;
  opts.materialize = false;
  auto model = load_model(a.positional()[0], opts);
  const std::string dtype = torch_dtype_name(model->checkpoint().dtype());
  const std::string& path = a.positional()[0];
  const bool gguf = is_gguf_file(path);
  // For a GGUF the checkpoint is the converted float copy in the cache: report the file itself.
  const int64_t bytes = gguf ? static_cast<int64_t>(std::filesystem::file_size(path)) : model->checkpoint().bytes_on_disk();
  const std::map<std::string, int> types = gguf ? gguf_types(path) : std::map<std::string, int>{};
  if (a.flag("json")) {
    nlohmann::json j;
    j["architecture"] = model->architecture();
    j["parameters"] = model->parameter_count();
    j["dtype"] = dtype;
    j["bytes_on_disk"] = bytes;
    if (gguf) j["gguf_types"] = types;
    const std::string ct = model->checkpoint().compressed_tensors_format();
    if (!ct.empty()) j["compressed_tensors"] = ct;
    j["layers"] = nlohmann::json::array();
    for (const auto& l : model->layers())
      j["layers"].push_back({{"name", l->name()}, {"kind", kind_name(l->kind())}, {"shape", l->shape()}, {"parameters", l->parameters()}});
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << "model         " << a.positional()[0] << "\n"
            << "architecture  " << model->architecture() << "\n"
            << "parameters    " << with_commas(model->parameter_count()) << "\n"
            << "dtype         " << dtype << "\n"
            << "size on disk  " << human_bytes(bytes) << "\n";
  if (gguf) {
    std::cout << "stored as     GGUF:";
    for (const auto& [t, n] : types) std::cout << " " << t << " ×" << n;
    std::cout << " tensors (dequantized into a float32 copy on first open; quench-cli diff FLOAT_DIR " << path << " compares them)\n";
  }
  if (!model->checkpoint().compressed_tensors_format().empty())
    std::cout << "stored as     compressed-tensors " << model->checkpoint().compressed_tensors_format()
              << " (weights decoded to float32 on load; quench-cli diff FLOAT_DIR " << a.positional()[0] << " compares them)\n";
  std::cout << "layers        " << model->layers().size() << " compressible, " << model->points().size()
            << " observable points\n\n";
  Table t({"name", "kind", "shape", "parameters"}, {false, false, false, true});
  for (const auto& l : model->layers())
    t.add({l->name(), kind_name(l->kind()), shape_string(l->shape()), with_commas(l->parameters())});
  std::cout << t.str();
  return 0;
}

}  // namespace quench::cli
