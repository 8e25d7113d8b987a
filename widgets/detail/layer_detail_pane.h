#pragma once
// Everything about the selected layer: a header naming it, and one tab per DetailPage.
#include <QWidget>

#include <vector>

class QLabel;
class QStackedWidget;
class QTabWidget;

namespace quench::gui {

class DetailPage;
class ModelSession;

class LayerDetailPane : public QWidget {
  Q_OBJECT

 public:
  explicit LayerDetailPane(QWidget* parent = nullptr);

  // Takes ownership. Pages show in the order added.
  void addPage(DetailPage* page);
  // Brings one of the added pages to the front.
  void showPage(DetailPage* page);
  void setSession(const ModelSession* session);
  // row in session order; −1 shows the "pick a layer" hint.
  void showLayer(int row);
  int layer() const { return row_; }
  QTabWidget* tabs() const { return tabs_; }

 private:
  void refresh();

  const ModelSession* session_ = nullptr;
  QMetaObject::Connection stats_connection_, run_connection_, activations_connection_, parent_connection_;
  int row_ = -1;
  QStackedWidget* stack_;
  QLabel* hint_;
  QLabel* header_;
  QTabWidget* tabs_;
  std::vector<DetailPage*> pages_;
};

}  // namespace quench::gui
