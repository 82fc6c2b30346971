#include "text/normalizer.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace qclip {
namespace {

// Expected values from Python's bytes.decode("utf-8", errors="replace"), which replaces each
// maximal ill-formed subpart with one U+FFFD, as Rust's String::from_utf8_lossy does.
TEST(Utf8, LossyDecodingReplacesMaximalSubparts) {
  EXPECT_EQ(DecodeUtf8Lossy("\xe2\x82"
                            "A"),
            U"\uFFFDA");
  EXPECT_EQ(DecodeUtf8Lossy("\xed\xa0\x80"), U"\uFFFD\uFFFD\uFFFD");            // a surrogate
  EXPECT_EQ(DecodeUtf8Lossy("\xf0\x9f\x98"), U"\uFFFD");                        // cut short
  EXPECT_EQ(DecodeUtf8Lossy("\xc0\xaf"), U"\uFFFD\uFFFD");                      // overlong
  EXPECT_EQ(DecodeUtf8Lossy("\xe0\x80\x80"), U"\uFFFD\uFFFD\uFFFD");            // overlong
  EXPECT_EQ(DecodeUtf8Lossy("\xf4\x90\x80\x80"), U"\uFFFD\uFFFD\uFFFD\uFFFD");  // > U+10FFFF
  EXPECT_EQ(DecodeUtf8Lossy("\xf5\x80"), U"\uFFFD\uFFFD");
  EXPECT_EQ(DecodeUtf8Lossy("\x80\x80"), U"\uFFFD\uFFFD");
  EXPECT_EQ(DecodeUtf8Lossy("a\xf0\x9f"
                            "b"),
            U"a\uFFFDb");
  EXPECT_EQ(DecodeUtf8Lossy("\xf0\x9f\x98\xb7"), U"\U0001F637");
  EXPECT_EQ(DecodeUtf8Lossy(std::string("a\0b", 3)), std::u32string(U"a\0b", 3));
}

TEST(Utf8, EncodeRoundTrips) {
  const std::string text = "a\u00e9\u4e2d\U0001F637";
  EXPECT_EQ(EncodeUtf8(DecodeUtf8Lossy(text)), text);
  EXPECT_TRUE(IsValidUtf8(text));
  EXPECT_FALSE(IsValidUtf8("a\xff"));
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));
}

TEST(CharClasses, MatchHfTokenizers) {
  EXPECT_TRUE(IsWhiteSpace(U'\u00a0'));
  EXPECT_TRUE(IsWhiteSpace(U'\u3000'));
  EXPECT_TRUE(IsWhiteSpace(U'\u2029'));
  EXPECT_FALSE(IsWhiteSpace(U'\u200b'));  // zero width space is Cf, not White_Space
  EXPECT_FALSE(IsWhiteSpace(U'\x1c'));    // unlike Python's str.isspace
  EXPECT_TRUE(IsBertControl(U'\x07'));
  EXPECT_TRUE(IsBertControl(U'\ufeff'));      // Cf
  EXPECT_TRUE(IsBertControl(U'\U000F0000'));  // Co
  EXPECT_FALSE(IsBertControl(U'\t'));
  EXPECT_FALSE(IsBertControl(U'\U0001FAC1'));  // So
  for (const char32_t c : std::u32string_view(U"$+<=>^`|~-_.,!?\u00bf\u2014\u3001")) {
    EXPECT_TRUE(IsBertPunctuation(c)) << static_cast<uint32_t>(c);
  }
  EXPECT_FALSE(IsBertPunctuation(U'\u00b0'));  // So
  EXPECT_FALSE(IsBertPunctuation(U'\u00b1'));  // Sm
  EXPECT_FALSE(IsBertPunctuation(U'a'));
  // HF's ranges, which differ from Google BERT's Python (0x2B820-0x2CEAF) at the edge.
  EXPECT_TRUE(IsChineseChar(U'\u4e00'));
  EXPECT_TRUE(IsChineseChar(U'\U0002B81F'));
  EXPECT_FALSE(IsChineseChar(U'\U0002B820'));
  EXPECT_TRUE(IsChineseChar(U'\U0002B920'));
  EXPECT_FALSE(IsChineseChar(U'\u3042'));  // hiragana
  EXPECT_FALSE(IsChineseChar(U'\uac00'));  // hangul
}

TEST(BertNormalize, StepsInHfOrder) {
  EXPECT_EQ(BertNormalize(U"A\u00a0B\tC\nD"), U"a b c d");
  EXPECT_EQ(BertNormalize(std::u32string(U"a\0b\uFFFDc\u200bd", 8)), U"abcd");
  EXPECT_EQ(BertNormalize(U"a\vb\fc\u0085d"), U"abcd");  // Cc before White_Space
  EXPECT_EQ(BertNormalize(U"\u80ba\u708e"), U" \u80ba  \u708e ");
  EXPECT_EQ(BertNormalize(U"\u00c9COLE \u0130"), U"ecole i");
  EXPECT_EQ(BertNormalize(U"\ud55c"), U"\u1112\u1161\u11ab");  // hangul syllable -> jamo
  EXPECT_EQ(BertNormalize(U"\u3067"), U"\u3066");              // dakuten is Mn
  EXPECT_EQ(BertNormalize(U"\ufb01\u216b"), U"\ufb01\u217b");  // no compatibility mapping
  EXPECT_EQ(BertNormalize(U"\u03a3\u039f\u03a3"), U"\u03c3\u03bf\u03c3");
}

TEST(CleanTextLikeOpenClip, CollapsesAndStripsWhitespace) {
  EXPECT_EQ(CleanTextLikeOpenClip("  Chest\t\n X-ray \u3000"), "Chest X-ray");
  EXPECT_EQ(CleanTextLikeOpenClip("a\u00a0\u2003b"), "a b");
  EXPECT_EQ(CleanTextLikeOpenClip(" \r\n "), "");
  EXPECT_EQ(CleanTextLikeOpenClip(""), "");
  EXPECT_EQ(CleanTextLikeOpenClip("a\xff"
                                  "b"),
            "a\uFFFDb");
  EXPECT_EQ(CleanTextLikeOpenClip("caf\u00e9 \u80ba"), "caf\u00e9 \u80ba");
}

}  // namespace
}  // namespace qclip
