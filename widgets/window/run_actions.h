#pragma once
// The Recipe menu (load, save, undo, redo, apply the editor's setting) and the Run menu
// (compress + evaluate, baseline evaluation, sensitivity, calibration, sweeps, compare the selected runs).
class QMenu;

namespace quench::gui {

class MainWindow;

void addRecipeMenu(MainWindow& window, QMenu& menu);
void addRunMenu(MainWindow& window, QMenu& menu);

}  // namespace quench::gui
