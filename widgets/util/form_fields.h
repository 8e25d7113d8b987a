#pragma once
// Pieces the run, export and sweep dialogs and the recipe editor's sections build their forms
// from, so that the same setting looks and behaves the same in each.
#include <QString>

class QHBoxLayout;
class QLineEdit;
class QPushButton;
class QDoubleSpinBox;
class QSpinBox;
class QWidget;

namespace quench::gui {

QSpinBox* spinBox(QWidget* parent, const char* name, int lo, int hi, int value, const QString& tip = {});
QDoubleSpinBox* doubleSpinBox(QWidget* parent, const char* name, double lo, double hi, int decimals, double step, double value,
                              const QString& tip = {});

// "[count] windows of [tokens] <after>": the calibration and evaluation sample rows.
QHBoxLayout* windowsRow(QWidget* parent, QSpinBox* count, QSpinBox* tokens, const QString& after);

// "[count] <after>": a count on its own (images, not windows of tokens).
QHBoxLayout* countRow(QWidget* parent, QSpinBox* count, const QString& after);

// A line edit with a Browse… button beside it, in a widget of its own (for a form row).
QWidget* withBrowse(QWidget* parent, QLineEdit* edit, QPushButton* browse);

}  // namespace quench::gui
