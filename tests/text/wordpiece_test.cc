#include "text/wordpiece.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qclip/error.h"

namespace qclip {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<int32_t>;

const fs::path kTestData = fs::path(QCLIP_TEST_DATA) / "tokenizer";
const fs::path kSharedFixtures = fs::path(QCLIP_SHARED_FIXTURES) / "tokenizer";

const WordPieceTokenizer& Bert() {
  static const WordPieceTokenizer tokenizer =
      WordPieceTokenizer::FromFile((kTestData / "bert-base-uncased-vocab.txt").string());
  return tokenizer;
}

const WordPieceTokenizer& PubMedBert() {
  static const WordPieceTokenizer tokenizer =
      WordPieceTokenizer::FromFile((kTestData / "pubmedbert-vocab.txt").string());
  return tokenizer;
}

nlohmann::json ReadJson(const fs::path& path) {
  std::ifstream file(path);
  EXPECT_TRUE(file) << path;
  return nlohmann::json::parse(file);
}

// Runs every case of a *-cases.json file: `ids`, `tokens`, and `ids_max256` where the file has
// it (else the HF truncation rule applied to `ids`: the first 255 then [SEP]).
void ExpectCasesMatch(const fs::path& cases_path) {
  const nlohmann::json cases_file = ReadJson(cases_path);
  const WordPieceTokenizer tokenizer = WordPieceTokenizer::FromFile(
      (cases_path.parent_path() / cases_file["vocab"].get<std::string>()).string());
  int matched = 0;
  const nlohmann::json& cases = cases_file["cases"];
  for (const nlohmann::json& c : cases) {
    const std::string text = c["text"].get<std::string>();
    const Ids ids = c["ids"].get<Ids>();
    Ids ids_max256 = ids;
    if (c.contains("ids_max256")) {
      ids_max256 = c["ids_max256"].get<Ids>();
    } else if (ids.size() > 256) {
      ids_max256.resize(255);
      ids_max256.push_back(tokenizer.sep_id());
    }
    SCOPED_TRACE("text: \"" + text + "\"");
    const Ids got = tokenizer.Encode(text);
    const Ids got_max256 = tokenizer.Encode(text, 256);
    const std::vector<std::string> got_tokens = tokenizer.Tokenize(text);
    EXPECT_EQ(got, ids);
    EXPECT_EQ(got_max256, ids_max256);
    EXPECT_EQ(got_tokens, c["tokens"].get<std::vector<std::string>>());
    matched += got == ids && got_max256 == ids_max256;
  }
  EXPECT_EQ(matched, static_cast<int>(cases.size()));
  std::printf("%s: %d of %zu cases match\n", cases_path.string().c_str(), matched, cases.size());
}

TEST(WordPieceFixtures, BertBaseUncased) {
  ExpectCasesMatch(kTestData / "bert-base-uncased-cases.json");
}

TEST(WordPieceFixtures, PubMedBert) { ExpectCasesMatch(kTestData / "pubmedbert-cases.json"); }

TEST(WordPieceFixtures, SharedFixturesWhenPresent) {
  if (!fs::exists(kSharedFixtures)) GTEST_SKIP() << kSharedFixtures << " not found";
  ExpectCasesMatch(kSharedFixtures / "bert-base-uncased-cases.json");
  ExpectCasesMatch(kSharedFixtures / "pubmedbert-cases.json");
}

TEST(WordPieceVocab, SpecialIdsComeFromTheVocabulary) {
  EXPECT_EQ(Bert().vocab_size(), 30522u);
  EXPECT_EQ(Bert().cls_id(), 101);
  EXPECT_EQ(Bert().sep_id(), 102);
  EXPECT_EQ(Bert().pad_id(), 0);
  EXPECT_EQ(Bert().unk_id(), 100);
  EXPECT_EQ(PubMedBert().cls_id(), 2);
  EXPECT_EQ(PubMedBert().sep_id(), 3);
  EXPECT_EQ(PubMedBert().pad_id(), 0);
  EXPECT_EQ(PubMedBert().unk_id(), 1);
  EXPECT_EQ(Bert().token(1037), "a");
  EXPECT_THROW(Bert().token(30522), Error);
  EXPECT_THROW(Bert().token(-1), Error);
}

TEST(WordPieceEdgeCases, EmptyAndWhitespaceOnly) {
  EXPECT_EQ(Bert().Encode(""), (Ids{101, 102}));
  EXPECT_EQ(Bert().Encode(" \t\r\n\v\f\u00a0\u3000\u2028 "), (Ids{101, 102}));
}

TEST(WordPieceEdgeCases, InvalidUtf8IsReplacedThenDropped) {
  // U+FFFD replaces each bad sequence; HF's clean_text then removes U+FFFD, joining the sides.
  EXPECT_EQ(Bert().Encode("chest\xff x-ray"), Bert().Encode("chest x-ray"));
  EXPECT_EQ(Bert().Encode("ch\xc0\xaf"
                          "est"),
            Bert().Encode("chest"));
  EXPECT_EQ(Bert().Encode("chest \xed\xa0\x80\xe2\x82"), Bert().Encode("chest"));
  EXPECT_EQ(Bert().Encode("\xf0\x9f\x98"), (Ids{101, 102}));
}

TEST(WordPieceEdgeCases, NulAndControlBytesAreDropped) {
  const std::string text(
      "control\0char\x07"
      "bell",
      17);
  EXPECT_EQ(Bert().Encode(text), (Ids{101, 2491, 7507, 15185, 5349, 102}));
  EXPECT_EQ(Bert().Encode(std::string(1000, '\0')), (Ids{101, 102}));
  // \v, \f and U+0085 are Unicode whitespace but also Cc: HF drops them before mapping spaces.
  EXPECT_EQ(Bert().Encode("x\vray"), Bert().Encode("xray"));
  EXPECT_EQ(Bert().Encode("x\u0085ray"), Bert().Encode("xray"));
}

TEST(WordPieceEdgeCases, LongWordsAreOneUnknown) {
  EXPECT_EQ(Bert().Encode(std::string(101, 'a')), (Ids{101, 100, 102}));
  EXPECT_EQ(Bert().Encode(std::string(1 << 20, 'a')), (Ids{101, 100, 102}));
  // 100 chars, each 2 bytes: the limit counts chars, not bytes.
  std::string hundred_alphas;
  for (int i = 0; i < 100; ++i) hundred_alphas += "α";
  EXPECT_EQ(Bert().Encode(hundred_alphas).size(), 102u);  // α ##α ...
}

TEST(WordPieceEdgeCases, LargeInputsStayLinear) {
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "pneumonia ";
  EXPECT_EQ(Bert().Encode(text).size(), 100002u);
  const Ids truncated = Bert().Encode(text, 256);
  ASSERT_EQ(truncated.size(), 256u);
  EXPECT_EQ(truncated[254], 18583);
  EXPECT_EQ(truncated[255], 102);
  // A long run of combining marks (canonical reordering must not be quadratic): all are Mn.
  std::string marks = "a";
  for (int i = 0; i < 100000; ++i) marks += "\u0301\u0316";
  EXPECT_EQ(Bert().Encode(marks), (Ids{101, 1037, 102}));
  // 2 MB of punctuation: every char is a word.
  EXPECT_EQ(Bert().Encode(std::string(2 << 20, '.')).size(), (2u << 20) + 2);
}

TEST(WordPieceEdgeCases, CjkIdeographsAreWordsOfTheirOwn) {
  EXPECT_EQ(Bert().Encode("胸部x"), Bert().Encode("胸 部 x"));
  EXPECT_EQ(Bert().Tokenize("部x"), (std::vector<std::string>{"[CLS]", "部", "x", "[SEP]"}));
  // Hiragana is not in HF's ranges: "める" stays one word, め ##る.
  EXPECT_EQ(Bert().Tokenize("める"), (std::vector<std::string>{"[CLS]", "め", "##る", "[SEP]"}));
}

TEST(WordPieceEdgeCases, AccentsAndCaseAreRemoved) {
  EXPECT_EQ(Bert().Encode("CAFÉ Résumé"), Bert().Encode("cafe resume"));
  EXPECT_EQ(Bert().Encode("Cafe\u0301"), Bert().Encode("cafe"));  // decomposed input
  EXPECT_EQ(Bert().Encode("İstanbul"), Bert().Encode("istanbul"));
  EXPECT_EQ(Bert().Encode("ΣΟΦΟΣ"), Bert().Encode("σοφοσ"));  // no final-sigma rule
}

TEST(WordPieceEdgeCases, EmojiAreUnknownWords) {
  EXPECT_EQ(Bert().Encode("😷"), (Ids{101, 100, 102}));
  EXPECT_EQ(Bert().Encode("😷🫁"), (Ids{101, 100, 102}));
  EXPECT_EQ(Bert().Encode("😷 🫁"), (Ids{101, 100, 100, 102}));
}

TEST(WordPieceEdgeCases, SpecialTokenLiterals) {
  EXPECT_EQ(Bert().Encode("[CLS][SEP][MASK][PAD][UNK]"), (Ids{101, 101, 102, 103, 0, 100, 102}));
  EXPECT_EQ(PubMedBert().Encode("[SEP]"), (Ids{2, 3, 3}));
  // Matched on the raw text, anywhere, even inside a word.
  EXPECT_EQ(Bert().Encode("a[SEP]a"), (Ids{101, 1037, 102, 1037, 102}));
  EXPECT_EQ(Bert().Encode("  [MASK]  "), (Ids{101, 103, 102}));
  // Case-sensitive, and only whole: the rest is ordinary punctuation and words.
  EXPECT_EQ(Bert().Tokenize("[CLS"),
            (std::vector<std::string>{"[CLS]", "[", "cl", "##s", "[SEP]"}));
  EXPECT_EQ(Bert().Tokenize("[Sep]"),
            (std::vector<std::string>{"[CLS]", "[", "sep", "]", "[SEP]"}));
  // Removed characters do not make a special token: matching happens before normalization.
  EXPECT_EQ(Bert().Tokenize(std::string("[S\0EP]", 6)),
            (std::vector<std::string>{"[CLS]", "[", "sep", "]", "[SEP]"}));
}

TEST(WordPieceEncode, TruncationKeepsSep) {
  EXPECT_EQ(Bert().Encode("chest x-ray", 2), (Ids{101, 102}));
  EXPECT_EQ(Bert().Encode("chest x-ray", 4), (Ids{101, 3108, 1060, 102}));
  EXPECT_EQ(Bert().Encode("chest x-ray", 6), (Ids{101, 3108, 1060, 1011, 4097, 102}));
  EXPECT_EQ(Bert().Encode("chest x-ray", 100), (Ids{101, 3108, 1060, 1011, 4097, 102}));
  EXPECT_THROW(Bert().Encode("chest", 1), Error);
}

TEST(WordPieceEncode, PaddedToLength) {
  EXPECT_EQ(Bert().EncodePadded("a", 5), (Ids{101, 1037, 102, 0, 0}));
  EXPECT_EQ(PubMedBert().EncodePadded("chest x-ray", 4), (Ids{2, 8475, 66, 3}));
  EXPECT_EQ(Bert().EncodePadded("", 256).size(), 256u);
  EXPECT_THROW(Bert().EncodePadded("a", 1), Error);
}

// --- vocabulary loading -------------------------------------------------------------------------

std::string WriteVocab(const std::string& name, const std::string& contents) {
  const std::string path = ::testing::TempDir() + "/wordpiece_test_" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

std::string LoadError(const std::string& path) {
  try {
    WordPieceTokenizer::FromFile(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

constexpr char kSpecials[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n";

TEST(WordPieceVocab, CrlfAndMissingFinalNewlineAreAccepted) {
  const std::string path = WriteVocab("crlf.txt", "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nab\r\n##c");
  const WordPieceTokenizer tokenizer = WordPieceTokenizer::FromFile(path);
  EXPECT_EQ(tokenizer.vocab_size(), 6u);
  EXPECT_EQ(tokenizer.Encode("abc ab abd"), (Ids{2, 4, 5, 4, 1, 3}));
  EXPECT_EQ(tokenizer.Encode("[MASK]"), (Ids{2, 1, 1, 1, 3}));  // no [MASK]: plain text
}

TEST(WordPieceVocab, FromLines) {
  const WordPieceTokenizer tokenizer =
      WordPieceTokenizer::FromLines({"[UNK]", "[CLS]", "[SEP]", "[PAD]", "x", "##ray"});
  EXPECT_EQ(tokenizer.EncodePadded("X-Ray", 6), (Ids{1, 4, 0, 0, 2, 3}));
}

TEST(WordPieceVocab, BadFilesAreRejectedClearly) {
  const auto has = [](const std::string& message, const std::string& part) {
    return message.find(part) != std::string::npos ? ::testing::AssertionSuccess()
                                                   : ::testing::AssertionFailure() << message;
  };
  EXPECT_TRUE(has(LoadError("/nonexistent/vocab.txt"), "cannot open vocabulary file"));
  EXPECT_TRUE(has(LoadError(::testing::TempDir()), "vocabulary file"));  // a directory
  EXPECT_TRUE(has(LoadError(WriteVocab("empty.txt", "")), "empty vocabulary"));
  EXPECT_TRUE(has(LoadError(WriteVocab("blank.txt", std::string(kSpecials) + "a\n\nb\n")),
                  "line 6: empty token"));
  EXPECT_TRUE(has(LoadError(WriteVocab("dup.txt", std::string(kSpecials) + "a\nb\na\n")),
                  "line 7: duplicate token \"a\" (first on line 5)"));
  EXPECT_TRUE(
      has(LoadError(WriteVocab("long.txt", std::string(kSpecials) + std::string(5000, 'x'))),
          "line 5: token is 5000 bytes long"));
  EXPECT_TRUE(has(LoadError(WriteVocab("utf8.txt", std::string(kSpecials) + "a\xff\n")),
                  "line 5: token is not valid UTF-8"));
  EXPECT_TRUE(has(LoadError(WriteVocab("nocls.txt", "[PAD]\n[UNK]\n[SEP]\n")), "no [CLS] token"));
  EXPECT_TRUE(
      has(LoadError(WriteVocab("lower.txt", "[pad]\n[unk]\n[cls]\n[sep]\n")), "no [CLS] token"));
  EXPECT_THROW(WordPieceTokenizer::FromLines({}), Error);
}

}  // namespace
}  // namespace qclip
