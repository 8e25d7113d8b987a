#include "widgets/detail/layer_detail_pane.h"

#include <QLabel>
#include <QLocale>
#include <QStackedWidget>
#include <QTabWidget>
#include <QVBoxLayout>

#include "widgets/detail/detail_page.h"
#include "widgets/session/model_session.h"
#include "widgets/util/text.h"

namespace quench::gui {

LayerDetailPane::LayerDetailPane(QWidget* parent)
    : QWidget(parent), stack_(new QStackedWidget(this)), hint_(new QLabel(this)), header_(new QLabel(this)),
      tabs_(new QTabWidget(this)) {
  hint_->setAlignment(Qt::AlignCenter);
  hint_->setWordWrap(true);
  hint_->setForegroundRole(QPalette::PlaceholderText);
  header_->setObjectName(QStringLiteral("layerHeader"));
  header_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  header_->setWordWrap(true);  // ResNet and ViT module paths are long
  QFont big = header_->font();
  big.setPointSizeF(big.pointSizeF() * 1.15);
  big.setBold(true);
  header_->setFont(big);
  tabs_->setDocumentMode(true);

  auto* detail = new QWidget(this);
  auto* column = new QVBoxLayout(detail);
  column->setContentsMargins(0, 0, 0, 0);
  column->addWidget(header_);
  column->addWidget(tabs_, 1);
  stack_->addWidget(hint_);
  stack_->addWidget(detail);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(stack_);
  refresh();
}

void LayerDetailPane::addPage(DetailPage* page) {
  pages_.push_back(page);
  tabs_->addTab(page, page->pageTitle());
  refresh();
}

void LayerDetailPane::showPage(DetailPage* page) { tabs_->setCurrentWidget(page); }

void LayerDetailPane::setSession(const ModelSession* session) {
  disconnect(stats_connection_);
  disconnect(run_connection_);
  disconnect(activations_connection_);
  disconnect(parent_connection_);
  session_ = session;
  row_ = -1;
  if (session_) {
    run_connection_ = connect(session_, &ModelSession::runChanged, this, [this] { refresh(); });
    activations_connection_ = connect(session_, &ModelSession::activationsChanged, this, [this] { refresh(); });
    parent_connection_ = connect(session_, &ModelSession::parentChanged, this, [this](const QList<int>& rows) {
      if (rows.isEmpty() || rows.contains(row_)) refresh();
    });
    stats_connection_ = connect(session_, &ModelSession::weightStatsAdded, this, [this](const QList<int>& rows) {
      if (rows.contains(row_)) refresh();
    });
  }
  refresh();
}

void LayerDetailPane::showLayer(int row) {
  row_ = session_ && row >= 0 && row < session_->layerCount() ? row : -1;
  refresh();
}

void LayerDetailPane::refresh() {
  if (!session_ || row_ < 0) {
    hint_->setText(session_ ? tr("Select a layer in the table to see its weights.")
                            : tr("Open a Hugging Face model folder (File → Open, Ctrl+O), or drop one on this window."));
    stack_->setCurrentIndex(0);
    return;
  }
  const LayerRow& layer = session_->layer(row_);
  header_->setText(tr("%1   %2 %3, %4 parameters")
                       .arg(QString::fromStdString(layer.name), QString::fromLatin1(kind_name(layer.kind)),
                            shapeText(layer.shape), QLocale().toString(static_cast<qlonglong>(layer.parameters))));
  for (DetailPage* page : pages_) page->showLayer(*session_, row_);
  stack_->setCurrentIndex(1);
}

}  // namespace quench::gui
