#pragma once
// The open model at a glance: what it is, how big, how much of it can be compressed and observed.
#include <QGroupBox>

class QFormLayout;
class QLabel;

namespace quench::gui {

struct ModelSummary;

class SummaryPanel : public QGroupBox {
  Q_OBJECT

 public:
  explicit SummaryPanel(QWidget* parent = nullptr);
  // nullptr: no model open (the panel hides).
  void setSummary(const ModelSummary* summary);
  // The value shown for a field ("Architecture"), for tests.
  QString field(const QString& label) const;

 private:
  QLabel* add(const QString& label);

  QFormLayout* form_;
  QLabel *folder_, *architecture_, *parameters_, *dtype_, *size_, *layers_, *points_;
};

}  // namespace quench::gui
