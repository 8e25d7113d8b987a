// Every registered architecture's declared structure (core/models/architecture.h) against its
// fixtures: a family without a fixture, a role naming a module the model lacks, a block layer that
// no stage lists, or a preset that does not resolve fails here, not in a user's run.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "core/compress/family.h"
#include "core/compress/recipe.h"
#include "core/models/registry.h"
#include "core/io/config.h"
#include "test_util.h"

namespace quench {
namespace {

// config.json "architectures"[0] of every hf-tiny fixture → its folders.
std::map<std::string, std::vector<std::string>> fixtures_by_architecture() {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& e : std::filesystem::directory_iterator(test::fixture("hf-tiny"))) {
    if (!std::filesystem::exists(e.path() / "config.json")) continue;
    const Config c = Config::load(e.path().string() + "/config.json");
    out[c.architecture()].push_back(e.path().string());
  }
  return out;
}

TEST(ArchitectureStructure, EveryRegisteredNameHasAFixtureAndOneFamily) {
  const auto fixtures = fixtures_by_architecture();
  std::set<std::string> seen;
  for (const auto& a : architectures()) {
    EXPECT_TRUE(seen.insert(a.name).second) << a.name << " is registered twice";
    EXPECT_TRUE(fixtures.count(a.name)) << a.name << " has no fixture in tests/fixtures/hf-tiny (its structure cannot be checked)";
    ASSERT_NE(a.structure, nullptr) << a.name;
    EXPECT_EQ(structure_of(a.name), a.structure);
  }
  for (const auto& [arch, dirs] : fixtures) EXPECT_TRUE(find_architecture(arch)) << dirs.front() << ": " << arch << " is not registered";
}

// Whether `rel` names a layer of block i.
Layer* block_layer(const Model& m, int64_t i, const std::string& rel) { return m.find_layer(m.block_name(i) + "." + rel); }

void check_structure(const Model& m, const std::string& dir) {
  const Structure& s = *structure_of(m.architecture());
  SCOPED_TRACE(dir);
  ASSERT_FALSE(s.head.empty()) << "no output head declared";
  EXPECT_TRUE(m.find_layer(s.head)) << "head " << s.head;
  EXPECT_EQ(head_layer(m), s.head);
  for (int64_t i = 0; i < m.num_blocks(); ++i) {
    SCOPED_TRACE(m.block_name(i));
    // Stages: existing layers, none twice, and together every layer of the block (a layer left
    // out would be quantized in a stage of its own, out of true-sequential order).
    std::set<const Layer*> staged;
    for (const auto& stage : s.stages)
      for (const auto& rel : stage) {
        Layer* l = block_layer(m, i, rel);
        EXPECT_TRUE(l) << "stage layer " << rel << " is not in the block";
        if (l) EXPECT_TRUE(staged.insert(l).second) << rel << " is in two stages";
      }
    if (!s.stages.empty())
      for (const Layer* l : m.block_layers(i)) EXPECT_TRUE(staged.count(l)) << l->name() << " is in no stage";

    // Scale groups: every reader is a Linear of the block and the preceding op exists; a group
    // may drop out only when a previous linear's rows do not chain (grouped-query v → o).
    const auto concrete = block_scale_groups(m, i);
    size_t expected = 0;
    for (const auto& g : s.groups) {
      for (const auto& rel : g.layers) {
        const Layer* l = block_layer(m, i, rel);
        EXPECT_TRUE(l && l->kind() == LayerKind::Linear) << "group reader " << rel;
      }
      if (g.prev_kind == ScaleGroup::Prev::LinearRows) {
        const Layer* prev = block_layer(m, i, g.prev);
        ASSERT_TRUE(prev) << "group source " << g.prev;
        const Layer* first = block_layer(m, i, g.layers.front());
        if (first && prev->out_features() == first->in_features()) ++expected;
      } else {
        EXPECT_TRUE(m.params().count(m.block_name(i) + "." + g.prev + ".weight")) << "norm " << g.prev;
        ++expected;
      }
    }
    EXPECT_EQ(concrete.size(), expected);

    for (const auto& rel : s.no_clip) EXPECT_TRUE(block_layer(m, i, rel)) << "no_clip " << rel;
    for (const auto& rel : s.kv_projections) {
      EXPECT_TRUE(block_layer(m, i, rel)) << "kv projection " << rel;
      EXPECT_TRUE(is_kv_projection(m, m.block_name(i) + "." + rel));
    }
    if (s.prunable) {
      const auto& r = *s.prunable;
      for (const auto* rel : {&r.q, &r.k, &r.v, &r.o, &r.gate, &r.up, &r.down}) {
        const Layer* l = block_layer(m, i, *rel);
        EXPECT_TRUE(l && l->kind() == LayerKind::Linear) << "prunable role " << *rel;
      }
      EXPECT_GT(m.attention_head_dim(), 0) << "FLAP needs the head size";
    }
  }
  // Presets resolve on the model as written (their point and layer patterns match something).
  if (!s.quamba.is_null()) {
    EXPECT_NO_THROW(resolve(Recipe::parse({{"preset", "quamba"}}), m));
    // (the W4 presets' 128-wide groups do not divide the tiny fixtures' 64 inputs)
    EXPECT_NO_THROW(resolve(Recipe::parse({{"preset", "quamba2-w8a8"}}), m));
  }
  if (s.ssd_head_reorder) EXPECT_FALSE(s.quamba.is_null()) << "Quamba2's reordering builds on the family's Quamba recipe";
}

TEST(ArchitectureStructure, EveryDescriptionMatchesItsFixtures) {
  for (const auto& [arch, dirs] : fixtures_by_architecture())
    for (const auto& dir : dirs) {
      LoadOptions o;
      o.materialize = false;  // structure only: names and shapes
      const auto m = load_model(dir, o);
      check_structure(*m, dir);
    }
}

TEST(ArchitectureStructure, MessagesNameTheFamiliesAMethodAppliesTo) {
  EXPECT_EQ(families_where([](const Structure& s) { return s.ssd_head_reorder; }), "Mamba-2 (Mamba2ForCausalLM)");
  EXPECT_EQ(families_where([](const Structure& s) { return !s.quamba.is_null(); }), "Mamba and Mamba-2 (MambaForCausalLM, Mamba2ForCausalLM)");
  EXPECT_EQ(families_where([](const Structure&) { return false; }), "no supported architecture");
}

}  // namespace
}  // namespace quench
