# libtorch: Debian's libtorch-dev 1.13 (CPU) here and in CI, libtorch 2.x with CUDA on the GPU machine.
# Torch's config wants CUDA variables set only when it is a CUDA build; keep its warnings quiet.
find_package(Torch REQUIRED)
message(STATUS "Quench: libtorch ${Torch_VERSION} from ${Torch_DIR}")
# TorchConfig appends flags meant for its own build; keep only what consumers need.
add_library(quench_torch INTERFACE)
target_link_libraries(quench_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(quench_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
