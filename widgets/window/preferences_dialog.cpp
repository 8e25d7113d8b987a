#include "widgets/window/preferences_dialog.h"

#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>

#include "widgets/window/settings.h"

namespace quench::gui {

namespace {
QWidget* withBrowse(QLineEdit* edit, QWidget* parent, std::function<QString()> browse) {
  auto* row = new QWidget(parent);
  auto* layout = new QHBoxLayout(row);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(edit, 1);
  auto* button = new QPushButton(QObject::tr("Browse…"), row);
  layout->addWidget(button);
  QObject::connect(button, &QPushButton::clicked, edit, [edit, browse = std::move(browse)] {
    const QString path = browse();
    if (!path.isEmpty()) edit->setText(path);
  });
  return row;
}
}  // namespace

PreferencesDialog::PreferencesDialog(Settings& settings, QWidget* parent)
    : QDialog(parent), settings_(settings), database_(new QLineEdit(this)), calibration_(new QLineEdit(this)),
      error_(new QLabel(this)) {
  setWindowTitle(tr("Preferences"));
  setObjectName(QStringLiteral("preferencesDialog"));
  database_->setObjectName(QStringLiteral("databasePath"));
  calibration_->setObjectName(QStringLiteral("calibrationSet"));
  database_->setText(settings.databasePath());
  calibration_->setText(settings.calibrationSet());
  calibration_->setPlaceholderText(tr("a text file, or an MNIST IDX images file"));
  database_->setMinimumWidth(420);

  auto* form = new QFormLayout();
  form->addRow(tr("Experiment database"), withBrowse(database_, this, [this] {
                 return QFileDialog::getSaveFileName(this, tr("Experiment database"), database_->text(),
                                                     tr("SQLite database (*.sqlite *.db);;All files (*)"), nullptr,
                                                     QFileDialog::DontConfirmOverwrite);
               }));
  form->addRow(tr("Default calibration set"), withBrowse(calibration_, this, [this] {
                 return QFileDialog::getOpenFileName(this, tr("Default calibration set"), calibration_->text());
               }));
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  connect(buttons, &QDialogButtonBox::accepted, this, &PreferencesDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &PreferencesDialog::reject);
  error_->setObjectName(QStringLiteral("preferencesError"));
  error_->setWordWrap(true);
  QPalette red = error_->palette();
  red.setColor(QPalette::WindowText, QColor(200, 30, 30));
  error_->setPalette(red);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addWidget(error_);
  layout->addWidget(buttons);
}

QString PreferencesDialog::errorText() const { return error_->text(); }

void PreferencesDialog::accept() {
  const QString db = database_->text().trimmed();
  const QString calibration = calibration_->text().trimmed();
  // Problems show inside the dialog, beside the fields, rather than in a second modal box.
  if (db.isEmpty() || !QDir().mkpath(QFileInfo(db).absolutePath())) {
    error_->setText(tr("The experiment database needs a folder that can be created: %1").arg(db));
    return;
  }
  if (!calibration.isEmpty() && !QFileInfo(calibration).isFile()) {
    error_->setText(tr("The calibration set %1 is not a file.").arg(calibration));
    return;
  }
  error_->clear();
  settings_.setDatabasePath(db);
  settings_.setCalibrationSet(calibration);
  QDialog::accept();
}

}  // namespace quench::gui
