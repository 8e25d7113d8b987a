#pragma once
// The workbench window. This file and main_window.cpp only assemble it; opening models and
// running their jobs lives in main_window_model.cpp, menus in their *_actions files.
#include <QMainWindow>

#include <memory>

#include "widgets/jobs/job_runner.h"

namespace quench::gui {

class DeviceSelector;
class FileActions;
class IssuesDock;
class IssuesModel;
class LayerBrowser;
class LayerDetailPane;
class LogPane;
class ModelSession;
class Settings;
class SummaryPanel;
class WeightPage;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(Settings& settings, QWidget* parent = nullptr);
  ~MainWindow() override;

  // Opens a model folder in the background (cancelling whatever runs), then computes its
  // weight statistics. Failures go to an error dialog and the Issues dock.
  void openModel(const QString& dir);
  // Recomputes the weight statistics of the open model on the selected device.
  void computeWeightStatistics();
  // Selects a layer by Hugging Face name in the table (and so in the detail pane).
  bool showLayer(const QString& name);

  const ModelSession* session() const { return session_.get(); }
  JobRunner& jobs() const { return *jobs_; }
  LayerBrowser* layers() const { return browser_; }
  LayerDetailPane* detail() const { return detail_; }
  WeightPage* weightPage() const { return weight_page_; }
  SummaryPanel* summary() const { return summary_; }
  IssuesModel& issues() const { return *issues_; }
  LogPane* log() const { return log_; }
  DeviceSelector* device() const { return device_; }

 Q_SIGNALS:
  void modelOpened(const QString& dir);
  void weightStatisticsReady();

 protected:
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;
  void closeEvent(QCloseEvent* event) override;

 private:
  void buildMenus();
  void setSession(std::shared_ptr<ModelSession> session);
  void reportOutliers();
  void onJobFinished(const QString& title, JobRunner::Outcome outcome, const QString& error);

  Settings& settings_;
  JobRunner* jobs_;
  IssuesModel* issues_;
  std::shared_ptr<ModelSession> session_;
  FileActions* file_actions_ = nullptr;
  SummaryPanel* summary_;
  LayerBrowser* browser_;
  LayerDetailPane* detail_;
  WeightPage* weight_page_;
  LogPane* log_;
  IssuesDock* issues_dock_;
  DeviceSelector* device_;
};

}  // namespace quench::gui
