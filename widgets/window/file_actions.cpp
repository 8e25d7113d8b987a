#include "widgets/window/file_actions.h"

#include <QAction>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenu>

#include "widgets/window/preferences_dialog.h"
#include "widgets/window/settings.h"

namespace quench::gui {

FileActions::FileActions(QWidget& window, Settings& settings, QMenu& file)
    : QObject(&window), window_(window), settings_(settings) {
  open_ = file.addAction(tr("&Open Model…"));
  open_->setShortcut(QKeySequence::Open);
  open_->setToolTip(tr("Open a Hugging Face model folder (config.json and safetensors)"));
  connect(open_, &QAction::triggered, this, [this] {
    const QString start = current_.isEmpty() ? QDir::homePath() : QFileInfo(current_).absolutePath();
    const QString dir = QFileDialog::getExistingDirectory(&window_, tr("Open a Hugging Face model folder"), start);
    if (!dir.isEmpty()) Q_EMIT openRequested(dir);
  });
  // A GGUF file opens like a folder: load_model converts it once into a cached checkpoint.
  QAction* gguf = file.addAction(tr("Open &GGUF File…"));
  gguf->setObjectName(QStringLiteral("openGguf"));
  gguf->setToolTip(tr("Open a llama.cpp GGUF file (dequantized into a cached checkpoint on first open)"));
  connect(gguf, &QAction::triggered, this, [this] {
    const QString start = current_.isEmpty() ? QDir::homePath() : QFileInfo(current_).absolutePath();
    const QString path = QFileDialog::getOpenFileName(&window_, tr("Open a GGUF file"), start, tr("GGUF files (*.gguf)"));
    if (!path.isEmpty()) Q_EMIT openRequested(path);
  });

  recent_ = file.addMenu(tr("Open &Recent"));
  recent_->setObjectName(QStringLiteral("recentMenu"));
  connect(recent_, &QMenu::aboutToShow, this, &FileActions::fillRecent);

  reload_ = file.addAction(tr("Re&load Model"));
  reload_->setShortcut(QKeySequence::Refresh);
  reload_->setEnabled(false);
  connect(reload_, &QAction::triggered, this, [this] {
    if (!current_.isEmpty()) Q_EMIT openRequested(current_);
  });

  file.addSeparator();
  export_ = file.addAction(tr("&Export Compressed Model…"));
  export_->setObjectName(QStringLiteral("exportModel"));
  export_->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_X));
  export_->setToolTip(tr("Compress the model with the recipe and write it as GGUF (llama.cpp), compressed-tensors (vLLM) "
                         "or float safetensors"));
  export_->setEnabled(false);
  connect(export_, &QAction::triggered, this, &FileActions::exportRequested);

  file.addSeparator();
  QAction* prefs = file.addAction(tr("&Preferences…"));
  prefs->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Comma));
  prefs->setMenuRole(QAction::PreferencesRole);
  connect(prefs, &QAction::triggered, this, [this] {
    auto* dialog = new PreferencesDialog(settings_, &window_);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &QDialog::accepted, this, &FileActions::preferencesChanged);
    dialog->open();
  });

  file.addSeparator();
  QAction* quit = file.addAction(tr("&Quit"));
  // QKeySequence::Quit is empty on some Linux desktops; Ctrl+Q is what users there expect.
  quit->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Q));
  quit->setMenuRole(QAction::QuitRole);
  connect(quit, &QAction::triggered, &window_, &QWidget::close);
}

void FileActions::setCurrent(const QString& dir) {
  current_ = dir;
  reload_->setEnabled(!dir.isEmpty());
  export_->setEnabled(!dir.isEmpty());
}

void FileActions::fillRecent() {
  recent_->clear();
  const QStringList dirs = settings_.recentModels();
  for (int i = 0; i < dirs.size(); ++i) {
    const QString& dir = dirs[i];
    // Alt+1 … Alt+9 through the menu mnemonics.
    const QString label = i < 9 ? QStringLiteral("&%1  %2").arg(i + 1).arg(dir) : dir;
    QAction* a = recent_->addAction(label);
    a->setEnabled(QFileInfo(dir).isDir());
    if (!a->isEnabled()) a->setToolTip(tr("The folder no longer exists"));
    connect(a, &QAction::triggered, this, [this, dir] { Q_EMIT openRequested(dir); });
  }
  if (dirs.isEmpty()) {
    recent_->addAction(tr("No recent models"))->setEnabled(false);
    return;
  }
  recent_->addSeparator();
  connect(recent_->addAction(tr("Clear List")), &QAction::triggered, this, [this] { settings_.clearRecentModels(); });
}

}  // namespace quench::gui
