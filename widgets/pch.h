// Precompiled for every widgets translation unit: Qt and libtorch headers dominate build time.
#pragma once
#include <ATen/ATen.h>

#include <QtWidgets>

#include <functional>
#include <memory>
#include <string>
#include <vector>
