#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/format.h"
#include "core/models/registry.h"

namespace quench::cli {

namespace {
const char* kUsage =
    "usage: quench-cli inspect MODEL_DIR|MODEL.gguf [--json]\n"
    "Prints the architecture, parameter count, stored dtype and one row per compressible layer\n"
    "(name, kind, weight shape, parameters). Reads only config.json and the safetensors headers.\n"
    "  --json   one JSON object: {\"architecture\", \"parameters\", \"dtype\", \"layers\": [{\"name\", \"kind\", \"shape\", \"parameters\"}]}\n";

std::string torch_dtype_name(const std::string& st) {
  if (st == "F32") return "float32";
  if (st == "F16") return "float16";
  if (st == "BF16") return "bfloat16";
  if (st == "F64") return "float64";
  return st;
}
}  // namespace

int cmd_inspect(const Argv& argv) {
  Args a(argv, {"json"}, {});
  if (a.help()) {
    std::cout << kUsage;
    return 0;
  }
  a.expect_positional({"MODEL_DIR"});
  LoadOptions opts;
  opts.materialize = false;
  auto model = load_model(a.positional()[0], opts);
  const std::string dtype = torch_dtype_name(model->checkpoint().dtype());
  if (a.flag("json")) {
    nlohmann::json j;
    j["architecture"] = model->architecture();
    j["parameters"] = model->parameter_count();
    j["dtype"] = dtype;
    j["bytes_on_disk"] = model->checkpoint().bytes_on_disk();
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
            << "size on disk  " << human_bytes(model->checkpoint().bytes_on_disk()) << "\n";
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
