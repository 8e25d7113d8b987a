// The streaming safetensors writer (core/io/safetensors_stream.h): tensors written one at a time
// read back equal through Quench's reader, with the header in the space reserved for it; a file
// whose announced tensors were not all written, or that was abandoned, never appears.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/io/safetensors.h"
#include "core/io/safetensors_stream.h"
#include "core/util/error.h"
#include "test_util.h"

namespace quench {
namespace {

namespace fs = std::filesystem;

TEST(SafetensorsStream, WritesOneTensorAtATimeAndReadsBack) {
  test::TempDir tmp;
  const std::string path = tmp.file("m.safetensors");
  at::manual_seed(1);
  const at::Tensor a = at::randn({3, 5}), b = at::randn({7}).to(at::kBFloat16), c = at::arange(12, at::kLong).reshape({2, 3, 2}).transpose(0, 2);
  {
    SafetensorsStreamWriter w(path, {"model.a.weight", "b", "c"}, {{"format", "pt"}});
    w.add("b", b);
    w.add("model.a.weight", a);
    w.add("c", c);  // not contiguous: written as its values
    w.commit();
  }
  const SafetensorsFile f(path);
  EXPECT_TRUE(at::equal(f.load("model.a.weight"), a));
  EXPECT_TRUE(at::equal(f.load("b"), b));
  EXPECT_TRUE(at::equal(f.load("c"), c.contiguous()));
  EXPECT_EQ(f.tensors().size(), 3u);
  const auto all = load_all_safetensors(path);
  EXPECT_EQ(all.size(), 3u);
}

TEST(SafetensorsStream, IncompleteOrWrongFilesNeverAppear) {
  test::TempDir tmp;
  const std::string path = tmp.file("m.safetensors");
  {
    SafetensorsStreamWriter w(path, {"a", "b"});
    w.add("a", at::ones({2}));
    EXPECT_THROW(w.add("a", at::ones({2})), Error);   // twice
    EXPECT_THROW(w.add("z", at::ones({2})), Error);   // never announced
    EXPECT_THROW(w.commit(), Error);                  // b missing
  }
  EXPECT_FALSE(fs::exists(path));
  for (const auto& e : fs::directory_iterator(tmp.file(""))) ADD_FAILURE() << "left behind: " << e.path();
  EXPECT_THROW(SafetensorsStreamWriter(path, {"a", "a"}), Error);
}

}  // namespace
}  // namespace quench
