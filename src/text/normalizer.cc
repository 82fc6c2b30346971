#include "text/normalizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "qclip/error.h"

namespace qclip {

namespace {

constexpr char32_t kReplacementChar = 0xFFFD;

utf8proc_category_t Category(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

int CombiningClass(char32_t c) {
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
}

// NFD: full canonical decomposition of each character, then canonical ordering (UAX #15): each
// run of non-starters is stably sorted by combining class. std::stable_sort keeps this
// O(n log n) on hostile runs of marks, where utf8proc's own bubble sort would be quadratic.
std::u32string Nfd(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  utf8proc_int32_t buffer[32];
  for (const char32_t c : text) {
    int unused_boundclass = 0;
    const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buffer, 32,
                                                       UTF8PROC_DECOMPOSE, &unused_boundclass);
    if (n < 1 || n > 32) {  // not a decomposable scalar value: keep it as it is
      out.push_back(c);
      continue;
    }
    out.append(buffer, buffer + n);
  }
  for (size_t begin = 0; begin < out.size();) {
    if (CombiningClass(out[begin]) == 0) {
      ++begin;
      continue;
    }
    size_t end = begin;
    while (end < out.size() && CombiningClass(out[end]) != 0) ++end;
    std::stable_sort(out.begin() + begin, out.begin() + end,
                     [](char32_t a, char32_t b) { return CombiningClass(a) < CombiningClass(b); });
    begin = end;
  }
  return out;
}

}  // namespace

Utf8Char DecodeUtf8Char(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[pos + i]); };
  const uint8_t lead = byte(0);
  if (lead < 0x80) return {lead, 1, true};
  // Well-formed sequences, Unicode Table 3-7: the lead byte fixes the length and the range of
  // the second byte (E0, ED, F0 and F4 narrow it to exclude overlongs, surrogates and values
  // above U+10FFFF); every further byte is 80..BF.
  size_t length = 0;
  char32_t code_point = 0;
  uint8_t low = 0x80, high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code_point = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code_point = lead & 0x0F;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code_point = lead & 0x07;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return {kReplacementChar, 1, false};
  }
  for (size_t i = 1; i < length; ++i) {
    if (pos + i >= text.size() || byte(i) < low || byte(i) > high) {
      return {kReplacementChar, i, false};  // the maximal subpart ends before byte i
    }
    code_point = (code_point << 6) | (byte(i) & 0x3F);
    low = 0x80;
    high = 0xBF;
  }
  return {code_point, length, true};
}

std::u32string DecodeUtf8Lossy(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = DecodeUtf8Char(text, pos);
    out.push_back(c.code_point);
    pos += c.length;
  }
  return out;
}

bool IsValidUtf8(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = DecodeUtf8Char(text, pos);
    if (!c.valid) return false;
    pos += c.length;
  }
  return true;
}

void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string EncodeUtf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char32_t c : text) AppendUtf8(c, &out);
  return out;
}

bool IsWhiteSpace(char32_t c) {
  // White_Space = the separators Zs, Zl, Zp plus the controls \t \n \v \f \r and U+0085.
  if ((c >= 0x09 && c <= 0x0D) || c == 0x85) return true;
  const utf8proc_category_t category = Category(c);
  return category == UTF8PROC_CATEGORY_ZS || category == UTF8PROC_CATEGORY_ZL ||
         category == UTF8PROC_CATEGORY_ZP;
}

bool IsBertControl(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  const utf8proc_category_t category = Category(c);
  return category == UTF8PROC_CATEGORY_CC || category == UTF8PROC_CATEGORY_CF ||
         category == UTF8PROC_CATEGORY_CO;
}

bool IsBertPunctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126)) {
    return true;
  }
  const utf8proc_category_t category = Category(c);
  return category >= UTF8PROC_CATEGORY_PC && category <= UTF8PROC_CATEGORY_PO;
}

bool IsChineseChar(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::u32string BertNormalize(std::u32string_view text) {
  // 1. clean_text. HF filters first, then maps, so \v \f and U+0085 (Cc, yet White_Space) are
  // dropped rather than turned into spaces.
  std::u32string cleaned;
  cleaned.reserve(text.size());
  for (const char32_t c : text) {
    if (c == 0 || c == kReplacementChar || IsBertControl(c)) continue;
    cleaned.push_back(IsWhiteSpace(c) ? U' ' : c);
  }
  // 2. handle_chinese_chars.
  std::u32string spaced;
  spaced.reserve(cleaned.size());
  for (const char32_t c : cleaned) {
    if (IsChineseChar(c)) {
      spaced.append({U' ', c, U' '});
    } else {
      spaced.push_back(c);
    }
  }
  // 3. strip_accents: HF turns it on whenever lowercase is on and strip_accents is unset.
  std::u32string stripped = Nfd(spaced);
  stripped.erase(std::remove_if(stripped.begin(), stripped.end(),
                                [](char32_t c) { return Category(c) == UTF8PROC_CATEGORY_MN; }),
                 stripped.end());
  // 4. lowercase. HF maps each char with Rust's char::to_lowercase, the full mapping; it differs
  // from utf8proc's simple one only for U+0130 'İ' (-> "i\u0307"), which step 3 has already
  // turned into 'I'. Like Rust's per-char mapping, there is no final-sigma rule.
  for (char32_t& c : stripped) c = static_cast<char32_t>(utf8proc_tolower(static_cast<int32_t>(c)));
  return stripped;
}

void CheckTextSize(std::string_view text) {
  if (text.size() > kMaxTextBytes) {
    throw Error("text of " + std::to_string(text.size()) + " bytes is above the limit of " +
                std::to_string(kMaxTextBytes) + " bytes (16 MiB; only the first tokens are used)");
  }
}

std::string CleanTextLikeOpenClip(std::string_view text) {
  CheckTextSize(text);
  std::string out;
  out.reserve(text.size());
  bool space_pending = false;
  for (const char32_t c : DecodeUtf8Lossy(text)) {
    if (IsWhiteSpace(c)) {
      space_pending = !out.empty();  // no leading space; a trailing one is never written
      continue;
    }
    if (space_pending) out.push_back(' ');
    space_pending = false;
    AppendUtf8(c, &out);
  }
  return out;
}

}  // namespace qclip
