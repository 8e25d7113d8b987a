#pragma once
// Where a Save dialog for an export (a plot, a table, a report) starts: the folder of the last
// export in this session, else the Documents folder, else home — never the process's working
// folder, which for a desktop launch is wherever the launcher ran.
#include <QString>

namespace quench::gui {

// `file_name` (no folder) placed in the folder a Save dialog should open.
QString suggestedSavePath(const QString& file_name);
// Records the folder of a path the user chose, for the next suggestion.
void rememberSavePath(const QString& chosen);

}  // namespace quench::gui
