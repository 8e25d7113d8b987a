// The wheel guard: over a combo box or spin box that does not have focus, the wheel scrolls the
// form that holds it and changes nothing; once the box has focus, the wheel changes it as usual.
#include <QComboBox>
#include <QLineEdit>
#include <QScrollArea>
#include <QScrollBar>
#include <QSpinBox>
#include <QVBoxLayout>
#include <QWheelEvent>
#include <QtTest>

#include "widgets/util/wheel_guard.h"

using namespace quench::gui;

namespace {
void wheelDown(QWidget* w) {
  const QPointF at(w->width() / 2.0, w->height() / 2.0);
  QWheelEvent e(at, w->mapToGlobal(at), QPoint(), QPoint(0, -120), Qt::NoButton, Qt::NoModifier, Qt::NoScrollPhase, false);
  QApplication::sendEvent(w, &e);
}
}  // namespace

class WheelGuardTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void scrollingAFormChangesNothingInIt() {
    installWheelGuard(*qApp);
    installWheelGuard(*qApp);  // once is enough; twice is harmless
    QScrollArea area;
    auto* form = new QWidget;
    auto* layout = new QVBoxLayout(form);
    auto* name = new QLineEdit;  // where the focus is while the form scrolls
    layout->addWidget(name);
    auto* combo = new QComboBox;
    combo->addItems({QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c")});
    auto* spin = new QSpinBox;
    spin->setRange(0, 100);
    spin->setValue(50);
    layout->addWidget(combo);
    layout->addWidget(spin);
    layout->addSpacing(2000);  // taller than the area: it can scroll
    area.setWidget(form);
    area.resize(300, 200);
    area.show();
    QVERIFY(QTest::qWaitForWindowExposed(&area));
    name->setFocus();
    QTRY_VERIFY(name->hasFocus());
    QVERIFY(!combo->hasFocus() && !spin->hasFocus());

    // A wheel turn must not give them the focus first (their default policy would).
    QCOMPARE(combo->focusPolicy(), Qt::StrongFocus);
    QCOMPARE(spin->focusPolicy(), Qt::StrongFocus);
    wheelDown(combo);
    wheelDown(spin);
    QCOMPARE(combo->currentIndex(), 0);
    QCOMPARE(spin->value(), 50);
    QVERIFY(area.verticalScrollBar()->value() > 0);  // the form scrolled instead

    combo->setFocus();
    QTRY_VERIFY(combo->hasFocus());
    wheelDown(combo);
    QCOMPARE(combo->currentIndex(), 1);
  }
};

QTEST_MAIN(WheelGuardTest)
#include "wheel_guard_test.moc"
