// Fuzzes the text front end on arbitrary bytes: open_clip's cleanup, the BERT normalizer and
// WordPiece with BiomedCLIP's PubMedBERT vocabulary (plain, truncated and padded), and the same
// bytes read as a vocabulary file of their own. Invalid UTF-8 is replaced, never trusted.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "qclip/error.h"
#include "text/normalizer.h"
#include "text/wordpiece.h"

namespace {

const qclip::WordPieceTokenizer& PubMedBert() {
  static const qclip::WordPieceTokenizer tokenizer =
      qclip::WordPieceTokenizer::FromFile(QCLIP_TEST_DATA "/tokenizer/pubmedbert-vocab.txt");
  return tokenizer;
}

void CheckIds(const qclip::WordPieceTokenizer& t, const std::vector<int32_t>& ids, size_t max) {
  if (ids.size() < 2 || (max > 0 && ids.size() > max)) std::abort();
  if (ids.front() != t.cls_id() || ids.back() != t.sep_id()) std::abort();
  for (const int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= t.vocab_size()) std::abort();
  }
}

// The input's lines as WordPieceTokenizer::FromFile splits a vocab.txt.
std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> lines;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    lines.emplace_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const qclip::WordPieceTokenizer& tokenizer = PubMedBert();
  const std::string cleaned = qclip::CleanTextLikeOpenClip(text);
  if (!qclip::IsValidUtf8(cleaned)) std::abort();  // replacement makes it valid
  CheckIds(tokenizer, tokenizer.Encode(text), 0);
  CheckIds(tokenizer, tokenizer.Encode(cleaned, 256), 256);
  const std::vector<int32_t> padded = tokenizer.EncodePadded(text, 8);
  if (padded.size() != 8) std::abort();
  for (const std::string& token : tokenizer.Tokenize(text)) {
    if (!qclip::IsValidUtf8(token)) std::abort();
  }

  // The same bytes as a vocabulary: refused with an error, or usable.
  try {
    const qclip::WordPieceTokenizer own = qclip::WordPieceTokenizer::FromLines(Lines(text));
    CheckIds(own, own.Encode(text, 64), 64);
    CheckIds(own, own.Encode("chest x-ray [SEP] ##ing"), 0);
  } catch (const qclip::Error&) {
  }
  return 0;
}
