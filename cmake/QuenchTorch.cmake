# libtorch: Debian's libtorch-dev 1.13 (CPU) here and in CI, libtorch 2.x with CUDA on the GPU machine.
# Torch's config wants CUDA variables set only when it is a CUDA build; keep its warnings quiet.
find_package(Torch REQUIRED)
message(STATUS "Quench: libtorch ${Torch_VERSION} from ${Torch_DIR}")
# TorchConfig appends flags meant for its own build; keep only what consumers need.
add_library(quench_torch INTERFACE)
target_link_libraries(quench_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(quench_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
# A libtorch built with CUDA (the GPU machine's) exposes its stream API; Debian's CPU build does not.
# core/ops reads libtorch's current CUDA stream only when both this and the kernels are there.
set(QUENCH_TORCH_CUDA OFF)
if(TARGET c10_cuda OR TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
  set(QUENCH_TORCH_CUDA ON)
endif()
message(STATUS "Quench: libtorch with CUDA ${QUENCH_TORCH_CUDA}")
