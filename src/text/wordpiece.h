// The BERT uncased WordPiece tokenizer, as HF tokenizers (Rust) runs it for bert-base-uncased and
// for BiomedCLIP's PubMedBERT vocabulary:
//   special tokens: literal "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]" in the raw text are
//       split out first, case-sensitively and anywhere, even inside a word (HF's added
//       vocabulary: special tokens are not normalized and have no lstrip/rstrip/single_word);
//   BertNormalizer on the text between them (text/normalizer.h);
//   BertPreTokenizer: split on whitespace; each punctuation char is a word of its own;
//   WordPiece: greedy longest-match-first with the "##" continuation prefix; a word of more than
//       100 chars, or one that cannot be matched to the end, is one [UNK];
//   template: [CLS] tokens [SEP].
// A loaded tokenizer is immutable: Encode may run on many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qclip {

class WordPieceTokenizer {
 public:
  // Reads a vocab.txt: one token per line, the id is the line number from 0. Throws qclip::Error
  // naming the file if it cannot be read, is larger than 64 MiB, or has a bad line (see
  // FromLines) or no [CLS], [SEP], [PAD] or [UNK].
  static WordPieceTokenizer FromFile(const std::string& vocab_path);
  // `lines[i]` is the token with id i; trailing whitespace (a CRLF's '\r') is dropped, as HF's
  // WordPiece::read_file does. Rejects empty, duplicate, over-long (> 1024 bytes) and
  // non-UTF-8 tokens with `source` and the line number in the message.
  static WordPieceTokenizer FromLines(const std::vector<std::string>& lines,
                                      const std::string& source = "vocabulary");

  // [CLS] + wordpiece ids + [SEP]. With max_length > 0 the tokens are cut so that the result has
  // at most max_length ids and still ends with [SEP] (HF's truncation); max_length 1 is an error.
  // Invalid UTF-8 is read as U+FFFD, which the normalizer drops. A text above kMaxTextBytes
  // (16 MiB, text/normalizer.h) is a qclip::Error.
  std::vector<int32_t> Encode(std::string_view text, size_t max_length = 0) const;
  // Encode(text, length) padded with [PAD] to exactly `length` ids, as open_clip's HFTokenizer
  // asks HF for (padding="max_length", truncation=True).
  std::vector<int32_t> EncodePadded(std::string_view text, size_t length) const;
  // The tokens of Encode(text), e.g. {"[CLS]", "card", "##iom", "[SEP]"}; for debugging.
  std::vector<std::string> Tokenize(std::string_view text) const;

  const std::string& token(int32_t id) const;  // throws qclip::Error for an unknown id
  size_t vocab_size() const { return tokens_.size(); }
  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }
  int32_t pad_id() const { return pad_id_; }
  int32_t unk_id() const { return unk_id_; }

 private:
  struct SpecialToken {
    std::u32string text;
    int32_t id;
  };

  WordPieceTokenizer(std::vector<std::string> tokens, const std::string& source);
  // Appends the ids of one special-token-free stretch of the input.
  void AppendSegment(std::u32string_view raw, std::vector<int32_t>* ids) const;
  // Appends the wordpieces of one pre-tokenized word.
  void AppendWord(std::u32string_view word, std::vector<int32_t>* ids) const;

  std::vector<std::string> tokens_;               // id -> token
  std::unordered_map<std::string, int32_t> ids_;  // token -> id
  size_t longest_token_bytes_ = 0;                // no longer piece can match
  std::vector<SpecialToken> special_tokens_;      // matched in the raw text
  int32_t cls_id_ = 0, sep_id_ = 0, pad_id_ = 0, unk_id_ = 0;
};

}  // namespace qclip
