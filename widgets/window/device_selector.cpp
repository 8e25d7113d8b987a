#include "widgets/window/device_selector.h"

#include <ATen/Context.h>

#include "core/models/registry.h"

namespace quench::gui {

QStringList availableDevices() {
  QStringList devices{QStringLiteral("cpu")};
  if (at::hasCUDA())
    for (size_t i = 0; i < at::getNumGPUs(); ++i) devices << QStringLiteral("cuda:%1").arg(i);
  return devices;
}

DeviceSelector::DeviceSelector(const QString& preferred, QWidget* parent) : QComboBox(parent) {
  setObjectName(QStringLiteral("deviceSelector"));
  setToolTip(tr("Device that jobs (weight statistics, and later calibration and compression) run on"));
  for (const QString& d : availableDevices()) addItem(d == QLatin1String("cpu") ? tr("CPU") : d.toUpper(), d);
  // "cuda" alone means the first GPU.
  const QString wanted = preferred == QLatin1String("cuda") ? QStringLiteral("cuda:0") : preferred;
  const int index = findData(wanted);
  setCurrentIndex(index >= 0 ? index : 0);
  connect(this, &QComboBox::currentIndexChanged, this, [this](int) { Q_EMIT deviceChanged(deviceName()); });
}

QString DeviceSelector::deviceName() const { return currentData().toString(); }

at::Device DeviceSelector::device() const { return parse_device(deviceName().toStdString()); }

}  // namespace quench::gui
