// A separate process for the store's crash and concurrency tests: it records runs the way a
// calibration job would, slowly enough to be killed in the middle, or fast enough to race another.
//
//   store_helper slow DB NAME LAYERS DELAY_MS   prints "started ID", then "layer I" after each layer
//   store_helper hold DB NAME                   prints "started ID", finishes when stdin closes
//   store_helper burst DB NAME RUNS WRITES      RUNS complete runs of WRITES metrics each
//   store_helper full DB NAME                   prints "started ID", then fills its disk: no file may
//                                               grow (RLIMIT_FSIZE) while it records layers
// Exit codes: 0 done, 3 database busy (message on stderr), 1 any other error.
#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "core/store/store.h"

using namespace quench;

namespace {
LayerResult layer(int i) {
  LayerResult r;
  r.layer = "model.layers." + std::to_string(i) + ".mlp.down_proj";
  r.kind = "linear";
  r.settings = {{"bits", 4}, {"group_size", 128}};
  r.bits = 4;
  r.params_before = 1000 + i;
  r.params_after = 1000 + i;
  r.weight_rel_mse = 1e-3 * (i + 1);
  return r;
}

int run(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (argc < 4) {
    std::cerr << "usage: store_helper slow|hold|burst DB NAME ...\n";
    return 2;
  }
  Store store = Store::open(argv[2]);
  ExperimentSpec spec;
  spec.name = argv[3];
  spec.kind = RunKind::Calibrate;
  if (mode == "slow" && argc == 6) {
    const int layers = std::stoi(argv[4]), delay = std::stoi(argv[5]);
    auto w = store.begin(spec);
    std::cout << "started " << w.id() << std::endl;
    for (int i = 0; i < layers; ++i) {
      w.add_layer_result(layer(i));
      std::cout << "layer " << i << std::endl;
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    }
    w.finish();
    std::cout << "finished" << std::endl;
    return 0;
  }
  if (mode == "hold" && argc == 4) {
    auto w = store.begin(spec);
    std::cout << "started " << w.id() << std::endl;
    std::string line;
    std::getline(std::cin, line);
    w.add_metric("perplexity", 12.5);
    w.finish();
    return 0;
  }
  if (mode == "burst" && argc == 6) {
    const int runs = std::stoi(argv[4]), writes = std::stoi(argv[5]);
    for (int r = 0; r < runs; ++r) {
      spec.name = std::string(argv[3]) + "-" + std::to_string(r);
      auto w = store.begin(spec);
      for (int i = 0; i < writes; ++i) w.add_metric("m" + std::to_string(i), i);
      w.add_layer_result(layer(r));
      w.finish();
    }
    return 0;
  }
  if (mode == "full" && argc == 4) {
    auto w = store.begin(spec);
    std::cout << "started " << w.id() << std::endl;
    // A full disk, for this process only: a write that would grow any file fails (EFBIG instead
    // of the SIGXFSZ that would kill it), as ENOSPC would. The recording must fail with a message,
    // and the writer's own attempt to mark the run failed fails too: the row stays `running`.
    std::signal(SIGXFSZ, SIG_IGN);
    std::error_code ec;
    const auto wal = std::filesystem::file_size(std::string(argv[2]) + "-wal", ec);
    const rlimit lim{static_cast<rlim_t>(ec ? 0 : wal), static_cast<rlim_t>(ec ? 0 : wal)};
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0) return 2;
    for (int i = 0; i < 100000; ++i) w.add_layer_result(layer(i));
    w.finish();
    return 0;
  }
  std::cerr << "store_helper: bad arguments for mode '" << mode << "'\n";
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const BusyError& e) {
    std::cerr << e.what() << "\n";
    return 3;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
