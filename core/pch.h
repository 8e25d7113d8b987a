// Precompiled for every core translation unit: libtorch's headers dominate build time.
#pragma once
#include <ATen/ATen.h>
// at::NoGradGuard: ATen.h stopped including it in libtorch 2.x (the GPU machine's 2.11).
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>
