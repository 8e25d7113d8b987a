#pragma once
// One CSV field as RFC 4180 quotes it: in double quotes (inner quotes doubled) when it holds a
// comma, a quote or a line break; as it is otherwise. Every CSV Quench writes goes through it.
#include <string>

namespace quench {

std::string csv_field(const std::string& s);

}  // namespace quench
