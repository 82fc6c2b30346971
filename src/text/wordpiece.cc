#include "text/wordpiece.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <utility>

#include "qclip/error.h"
#include "text/normalizer.h"

namespace qclip {

namespace {

constexpr size_t kMaxVocabFileBytes = size_t{64} << 20;
constexpr size_t kMaxTokenBytes = 1024;
// HF WordPiece's max_input_chars_per_word for BERT: a longer word is a single [UNK].
constexpr size_t kMaxCharsPerWord = 100;
constexpr std::string_view kContinuationPrefix = "##";
// HF's BertWordPieceTokenizer and bert-base-uncased's tokenizer.json register these as special
// tokens; the first four must be in the vocabulary, [MASK] is matched when it is.
constexpr std::string_view kCls = "[CLS]", kSep = "[SEP]", kPad = "[PAD]", kUnk = "[UNK]",
                           kMask = "[MASK]";

std::string TrimTrailingWhitespace(std::string_view line) {
  size_t end = line.size();
  while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t' || line[end - 1] == '\r' ||
                     line[end - 1] == '\v' || line[end - 1] == '\f')) {
    --end;
  }
  return std::string(line.substr(0, end));
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::FromFile(const std::string& vocab_path) {
  // Regular files only: opening a FIFO would wait for a writer, and a device has no size.
  std::error_code error;
  if (std::filesystem::exists(vocab_path, error) &&
      !std::filesystem::is_regular_file(vocab_path, error)) {
    throw Error(vocab_path + ": vocabulary file is not a regular file");
  }
  std::ifstream file(vocab_path, std::ios::binary | std::ios::ate);
  if (!file) throw Error(vocab_path + ": cannot open vocabulary file");
  const std::streamoff size = file.tellg();
  if (size < 0) throw Error(vocab_path + ": cannot read vocabulary file");
  if (static_cast<uint64_t>(size) > kMaxVocabFileBytes) {
    throw Error(vocab_path + ": vocabulary file is " + std::to_string(size) +
                " bytes, more than the 64 MiB allowed");
  }
  std::string text(static_cast<size_t>(size), '\0');
  file.seekg(0);
  if (!file.read(text.data(), size)) throw Error(vocab_path + ": cannot read vocabulary file");

  // Lines as Rust's BufRead::lines splits them: on '\n', with no empty line after a final '\n'.
  std::vector<std::string> lines;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    lines.emplace_back(text, begin, end - begin);
    begin = end + 1;
  }
  return WordPieceTokenizer(std::move(lines), vocab_path);
}

WordPieceTokenizer WordPieceTokenizer::FromLines(const std::vector<std::string>& lines,
                                                 const std::string& source) {
  return WordPieceTokenizer(lines, source);
}

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> lines, const std::string& source) {
  if (lines.empty()) throw Error(source + ": empty vocabulary");
  tokens_.reserve(lines.size());
  ids_.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string where = source + ": line " + std::to_string(i + 1) + ": ";
    if (lines[i].size() > kMaxTokenBytes) {
      throw Error(where + "token is " + std::to_string(lines[i].size()) +
                  " bytes long, more than the " + std::to_string(kMaxTokenBytes) + " allowed");
    }
    std::string token = TrimTrailingWhitespace(lines[i]);
    if (token.empty()) throw Error(where + "empty token");
    if (!IsValidUtf8(token)) throw Error(where + "token is not valid UTF-8");
    const auto [it, inserted] = ids_.emplace(token, static_cast<int32_t>(i));
    if (!inserted) {
      throw Error(where + "duplicate token \"" + token + "\" (first on line " +
                  std::to_string(it->second + 1) + ")");
    }
    longest_token_bytes_ = std::max(longest_token_bytes_, token.size());
    tokens_.push_back(std::move(token));
  }

  const auto require = [&](std::string_view token) {
    const auto it = ids_.find(std::string(token));
    if (it == ids_.end()) {
      throw Error(source + ": no " + std::string(token) +
                  " token (a BERT vocabulary needs [CLS], [SEP], [PAD] and [UNK])");
    }
    return it->second;
  };
  cls_id_ = require(kCls);
  sep_id_ = require(kSep);
  pad_id_ = require(kPad);
  unk_id_ = require(kUnk);
  for (const std::string_view token : {kCls, kSep, kPad, kUnk, kMask}) {
    const auto it = ids_.find(std::string(token));
    if (it != ids_.end()) special_tokens_.push_back({DecodeUtf8Lossy(token), it->second});
  }
}

std::vector<int32_t> WordPieceTokenizer::Encode(std::string_view text, size_t max_length) const {
  if (max_length == 1) throw Error("max_length 1 leaves no room for both [CLS] and [SEP]");
  CheckTextSize(text);
  std::vector<int32_t> ids = {cls_id_};
  // Split out special tokens on the raw text; the stretches between them are tokenized alone.
  const std::u32string chars = DecodeUtf8Lossy(text);
  size_t segment_begin = 0;
  for (size_t pos = 0; pos < chars.size();) {
    const SpecialToken* match = nullptr;
    // HF finds them leftmost-longest; none of them is a prefix of another, so at most one fits.
    for (const SpecialToken& special : special_tokens_) {
      if (chars.compare(pos, special.text.size(), special.text) == 0) match = &special;
    }
    if (match == nullptr) {
      ++pos;
      continue;
    }
    AppendSegment(std::u32string_view(chars).substr(segment_begin, pos - segment_begin), &ids);
    ids.push_back(match->id);
    pos += match->text.size();
    segment_begin = pos;
  }
  AppendSegment(std::u32string_view(chars).substr(segment_begin), &ids);
  // HF truncates the tokens to max_length minus the two added by the template.
  if (max_length > 0 && ids.size() + 1 > max_length) ids.resize(max_length - 1);
  ids.push_back(sep_id_);
  return ids;
}

std::vector<int32_t> WordPieceTokenizer::EncodePadded(std::string_view text, size_t length) const {
  if (length < 2) throw Error("padded length " + std::to_string(length) + " is less than 2");
  std::vector<int32_t> ids = Encode(text, length);
  ids.resize(length, pad_id_);
  return ids;
}

const std::string& WordPieceTokenizer::token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) {
    throw Error("token id " + std::to_string(id) + " is not in the vocabulary of " +
                std::to_string(tokens_.size()) + " tokens");
  }
  return tokens_[static_cast<size_t>(id)];
}

std::vector<std::string> WordPieceTokenizer::Tokenize(std::string_view text) const {
  std::vector<std::string> tokens;
  for (const int32_t id : Encode(text)) tokens.push_back(token(id));
  return tokens;
}

void WordPieceTokenizer::AppendSegment(std::u32string_view raw, std::vector<int32_t>* ids) const {
  const std::u32string normalized = BertNormalize(raw);
  const std::u32string_view text = normalized;
  // BertPreTokenizer: whitespace ends a word and is dropped; punctuation ends a word and is a
  // word of its own.
  size_t word_begin = 0;
  for (size_t pos = 0; pos <= text.size(); ++pos) {
    const bool at_end = pos == text.size();
    const bool punctuation = !at_end && IsBertPunctuation(text[pos]);
    if (!at_end && !punctuation && !IsWhiteSpace(text[pos])) continue;
    if (pos > word_begin) AppendWord(text.substr(word_begin, pos - word_begin), ids);
    if (punctuation) AppendWord(text.substr(pos, 1), ids);
    word_begin = pos + 1;
  }
}

void WordPieceTokenizer::AppendWord(std::u32string_view word, std::vector<int32_t>* ids) const {
  if (word.size() > kMaxCharsPerWord) {
    ids->push_back(unk_id_);
    return;
  }
  // The word in UTF-8, with the byte offset of each char: pieces end on char boundaries.
  std::string utf8;
  std::vector<size_t> offsets = {0};
  for (const char32_t c : word) {
    AppendUtf8(c, &utf8);
    offsets.push_back(utf8.size());
  }
  const size_t first_piece = ids->size();
  std::string piece;
  for (size_t start = 0; start < word.size();) {
    // Longest match first: try word[start, end) for end from the word's end down to start + 1.
    const std::string_view prefix = start > 0 ? kContinuationPrefix : std::string_view();
    int32_t id = -1;
    size_t end = word.size();
    for (; end > start; --end) {
      const size_t bytes = prefix.size() + offsets[end] - offsets[start];
      if (bytes > longest_token_bytes_) continue;  // longer than any token: cannot match
      piece.assign(prefix);
      piece.append(utf8, offsets[start], offsets[end] - offsets[start]);
      const auto it = ids_.find(piece);
      if (it != ids_.end()) {
        id = it->second;
        break;
      }
    }
    if (id < 0) {  // HF WordPiece: a word that cannot be matched to the end is one [UNK]
      ids->resize(first_piece);
      ids->push_back(unk_id_);
      return;
    }
    ids->push_back(id);
    start = end;
  }
}

}  // namespace qclip
