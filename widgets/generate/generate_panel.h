#pragma once
// The Generate side tab: a prompt, how many tokens and how (greedy or sampled), and the
// continuation as it comes, with prefill and decode tokens/s. Generation runs as a job on the job
// thread (generate_job.h) with its own copy of the model as stored on disk on the chosen device,
// so the views are never blocked; a compressed model saved with --save-model opens and generates
// like any other.
#include <QWidget>

class QDoubleSpinBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

namespace quench::gui {

class GeneratePanel : public QWidget {
  Q_OBJECT

 public:
  explicit GeneratePanel(QWidget* parent = nullptr);

  QString prompt() const;
  int maxNewTokens() const;
  double temperature() const;
  QPlainTextEdit* output() const { return output_; }
  QLabel* status() const { return status_; }
  QPushButton* generateButton() const { return generate_; }

  // Whether a text model with a decoding cache is open (else the button explains why not).
  void setModelReady(bool ready, const QString& why = {});
  // The job's life: started clears the output and shows the prompt; text arrives in pieces;
  // finished shows the speeds (or the error).
  void started();
  void appendText(const QString& piece);
  void finished(const QString& summary);

 Q_SIGNALS:
  void generateRequested(const QString& prompt, int max_new_tokens, double temperature);

 private:
  QPlainTextEdit* prompt_;
  QSpinBox* max_new_;
  QDoubleSpinBox* temperature_;
  QPushButton* generate_;
  QPlainTextEdit* output_;
  QLabel* status_;
  bool ready_ = false, running_ = false;
  void updateButton();
};

}  // namespace quench::gui
