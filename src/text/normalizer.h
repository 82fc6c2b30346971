// Text normalisation for BERT-style tokenizers: lossy UTF-8 decoding, the character classes and
// the BertNormalizer of HF tokenizers (Rust), and the text cleanup open_clip's HFTokenizer applies.
//
// Unicode data comes from utf8proc (2.8: Unicode 15). HF takes it from Rust's std (whitespace,
// lowercase), unicode-normalization (NFD) and unicode_categories (P*, Cc/Cf/Co, Mn tables); the
// results differ only for characters assigned in a Unicode version one side does not know.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace qclip {

// One decoded UTF-8 sequence. An ill-formed sequence decodes to U+FFFD and spans its maximal
// subpart (at least one byte), the policy of Unicode §3.9 that Rust's String::from_utf8_lossy and
// Python's bytes.decode(errors="replace") follow: "\xE2\x82A" is U+FFFD then 'A'.
struct Utf8Char {
  char32_t code_point;
  size_t length;  // bytes consumed, 1 to 4
  bool valid;
};
Utf8Char DecodeUtf8Char(std::string_view text, size_t pos);

std::u32string DecodeUtf8Lossy(std::string_view text);
bool IsValidUtf8(std::string_view text);
void AppendUtf8(char32_t code_point, std::string* out);
std::string EncodeUtf8(std::u32string_view text);

// The Unicode White_Space property, which Rust's char::is_whitespace tests and HF's BERT
// normalizer and pre-tokenizer use (HF also lists \t \n \r explicitly; they are White_Space).
bool IsWhiteSpace(char32_t c);
// HF BertNormalizer's is_control: Unicode Cc, Cf and Co (unicode_categories' is_other), except
// \t \n \r, which count as whitespace.
bool IsBertControl(char32_t c);
// HF BertPreTokenizer's is_bert_punc: Rust's char::is_ascii_punctuation (every ASCII symbol,
// 33-47, 58-64, 91-96, 123-126, so '$' '+' '<' '^' '`' too) or a Unicode P* category.
bool IsBertPunctuation(char32_t c);
// HF BertNormalizer's is_chinese_char: the CJK ideograph blocks, with HF's exact ranges.
bool IsChineseChar(char32_t c);

// HF BertNormalizer(clean_text, handle_chinese_chars, strip_accents, lowercase), the uncased
// BERT setting, applying its four steps in HF's order:
//   1. clean_text: drop U+0000, U+FFFD and controls; map whitespace to ' ';
//   2. handle_chinese_chars: put ' ' on both sides of each CJK ideograph;
//   3. strip_accents: NFD, then drop nonspacing marks (Mn);
//   4. lowercase.
std::u32string BertNormalize(std::u32string_view text);

// The longest text qclip tokenizes: 16 MiB, thousands of times BiomedCLIP's 256-token context.
// Tokenizing costs time and memory linear in the text (about 20 bytes of memory per byte), so
// the limit bounds both. CleanTextLikeOpenClip and WordPieceTokenizer::Encode check it.
constexpr size_t kMaxTextBytes = size_t{16} << 20;
// Throws qclip::Error if `text` is longer than kMaxTextBytes.
void CheckTextSize(std::string_view text);

// The whitespace part of open_clip's HFTokenizer cleaning, which BiomedCLIP applies before the
// HF tokenizer: whitespace_clean(basic_clean(text)), i.e. each run of whitespace becomes one ' '
// and the ends are stripped. Invalid UTF-8 is replaced with U+FFFD. Throws qclip::Error for a
// text above kMaxTextBytes.
//
// Not reproduced from basic_clean: ftfy.fix_text and html.unescape (twice). They change the ids
// only for text they would rewrite: HTML entities ("&amp;" -> "&"), curly quotes (’ -> '),
// ligatures (ﬁ -> fi), fullwidth forms (ＣＴ -> CT), C1 controls, mojibake. Plain text,
// including accented and non-Latin text, comes out the same.
std::string CleanTextLikeOpenClip(std::string_view text);

}  // namespace qclip
