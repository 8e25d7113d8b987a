#pragma once
// Where jobs run: the CPU, and each CUDA device libtorch can see.
#include <ATen/ATen.h>

#include <QComboBox>
#include <QStringList>

namespace quench::gui {

// "cpu", then "cuda:0", "cuda:1", … when this libtorch has CUDA and sees GPUs.
QStringList availableDevices();

class DeviceSelector : public QComboBox {
  Q_OBJECT

 public:
  // Selects `preferred` when available, else the CPU.
  explicit DeviceSelector(const QString& preferred, QWidget* parent = nullptr);
  QString deviceName() const;  // as parse_device accepts it
  at::Device device() const;

 Q_SIGNALS:
  void deviceChanged(const QString& name);
};

}  // namespace quench::gui
