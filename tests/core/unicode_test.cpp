// Character classes, UTF-8 handling and canonical normalization used by the tokenizer.
#include <gtest/gtest.h>

#include "core/text/unicode.h"
#include "core/text/unicode_norm.h"

namespace quench::text {
namespace {

TEST(Unicode, ClassesFollowTheUnicodeCategories) {
  EXPECT_TRUE(is_letter('a'));
  EXPECT_TRUE(is_letter(0xE9));     // é
  EXPECT_TRUE(is_letter(0x65E5));   // 日
  EXPECT_FALSE(is_letter('1'));
  EXPECT_TRUE(is_number(0x663));    // ARABIC-INDIC DIGIT THREE
  EXPECT_TRUE(is_number(0xBD));     // ½ (No)
  EXPECT_TRUE(is_space(0x3000));    // IDEOGRAPHIC SPACE
  EXPECT_TRUE(is_space(0x85));      // NEXT LINE
  EXPECT_FALSE(is_space(0x180E));   // MONGOLIAN VOWEL SEPARATOR: not White_Space since Unicode 6.3
  EXPECT_FALSE(is_space(0x1C));     // Python calls it a space; Unicode does not
  EXPECT_FALSE(is_letter(0x1F680)); // 🚀
  EXPECT_TRUE(is_word('_'));
  EXPECT_TRUE(is_word(0x301));      // combining acute accent
}

TEST(Unicode, FindsTheFirstIllFormedByte) {
  EXPECT_EQ(find_invalid_utf8("plain ascii text, long enough for the fast path"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("caf\xC3\xA9 \xF0\x9F\x9A\x80"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("abcdefghij\xC3"), 10u);            // truncated
  EXPECT_EQ(find_invalid_utf8("ab\xC0\x80"), 2u);                 // overlong
  EXPECT_EQ(find_invalid_utf8("ab\xED\xA0\x80"), 2u);             // surrogate
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);           // above U+10FFFF
}

TEST(Unicode, LossyDecodingReplacesMaximalSubparts) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(from_utf8_lossy("a\xF0\x9F\x9A"), "a" + r);            // one truncated sequence: one U+FFFD
  EXPECT_EQ(from_utf8_lossy("\xC0\x80"), r + r);                   // C0 never starts a sequence
  EXPECT_EQ(from_utf8_lossy("\xED\xA0\x80"), r + r + r);           // surrogates: each byte
  EXPECT_EQ(from_utf8_lossy("\xE2\x82x"), r + "x");
  EXPECT_EQ(from_utf8_lossy("ok \xE2\x82\xAC"), "ok \xE2\x82\xAC");
}

TEST(Unicode, LowercaseUsesFullMappingsWithoutContext) {
  EXPECT_EQ(to_lower("HeLLo"), "hello");
  EXPECT_EQ(to_lower("\xC4\xB0"), "i\xCC\x87");                    // İ → i + combining dot
  EXPECT_EQ(to_lower("\xCE\x91\xCE\xA3"), "\xCE\xB1\xCF\x83");     // ΑΣ → ασ (no final sigma)
  EXPECT_EQ(to_lower("\xC3\x9C" "ber"), "\xC3\xBC" "ber");
}

TEST(UnicodeNorm, ComposesReordersAndKeepsExclusions) {
  EXPECT_EQ(nfc("e\xCC\x81"), "\xC3\xA9");                          // e + ◌́ → é
  // é + dot below: canonical order puts the dot (220) before the acute (230): ẹ + ◌́
  EXPECT_EQ(nfc("\xC3\xA9\xCC\xA3"), "\xE1\xBA\xB9\xCC\x81");
  EXPECT_EQ(nfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"), "\xEA\xB0\x81");  // Hangul L V T → 각
  EXPECT_EQ(nfc("\xE2\x84\xAB"), "\xC3\x85");                      // Å ANGSTROM SIGN → Å
  EXPECT_EQ(nfc("\xE0\xA5\x98"), "\xE0\xA4\x95\xE0\xA4\xBC");      // क़ is excluded from composition
  EXPECT_EQ(nfc("plain"), "plain");
  EXPECT_FALSE(may_change_under_nfc("caf\xC3\xA9 \xE6\x97\xA5"));
  EXPECT_TRUE(may_change_under_nfc("cafe\xCC\x81"));
}

TEST(UnicodeNorm, DecomposesFully) {
  EXPECT_EQ(nfd("\xC3\xA9"), "e\xCC\x81");
  EXPECT_EQ(nfd("\xEA\xB0\x81"), "\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8");
  EXPECT_EQ(nfd("\xE1\xBA\xA5"), "a\xCC\x82\xCC\x81");             // ấ → a + ◌̂ + ◌́
}

}  // namespace
}  // namespace quench::text
