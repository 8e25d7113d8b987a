#include "core/text/json_node.h"

#include "core/util/error.h"

namespace quench::text {

void JsonNode::fail(const std::string& message) const { quench::fail(where(), ": ", message); }

bool JsonNode::has(const std::string& key) const {
  if (!j_->is_object()) return false;
  auto it = j_->find(key);
  return it != j_->end() && !it->is_null();
}

void JsonNode::expect_object() const {
  if (!j_->is_object()) fail(std::string("expected an object, got ") + j_->type_name());
}

void JsonNode::expect_array() const {
  if (!j_->is_array()) fail(std::string("expected an array, got ") + j_->type_name());
}

JsonNode JsonNode::at(const std::string& key) const {
  expect_object();
  auto it = j_->find(key);
  if (it == j_->end()) fail("missing key '" + key + "'");
  return JsonNode(*it, file_, child(key));
}

JsonNode JsonNode::at(size_t index) const {
  expect_array();
  if (index >= j_->size()) fail("index " + std::to_string(index) + " out of range");
  return JsonNode((*j_)[index], file_, path_ + "[" + std::to_string(index) + "]");
}

size_t JsonNode::size() const {
  expect_array();
  return j_->size();
}

std::string JsonNode::str() const {
  if (!j_->is_string()) fail(std::string("expected a string, got ") + j_->type_name());
  return j_->get<std::string>();
}

std::string JsonNode::str(const std::string& key) const { return at(key).str(); }

std::string JsonNode::str(const std::string& key, const std::string& fallback) const {
  return has(key) ? at(key).str() : fallback;
}

bool JsonNode::boolean(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const JsonNode v = at(key);
  if (!v.j_->is_boolean()) v.fail(std::string("expected true or false, got ") + v.j_->type_name());
  return v.j_->get<bool>();
}

int64_t JsonNode::integer() const {
  if (!j_->is_number_integer()) fail(std::string("expected an integer, got ") + j_->type_name());
  return j_->get<int64_t>();
}

int64_t JsonNode::integer(const std::string& key) const { return at(key).integer(); }

}  // namespace quench::text
