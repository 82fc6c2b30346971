// qclip-tokenize: BERT WordPiece token ids for JSON Lines text.
//
//   echo '"Chest X-ray"' | qclip-tokenize --vocab vocab.txt [--max-length N [--pad]] [--clean]
//   [101,3108,1060,1011,4097,102]
//
// Each stdin line is one JSON string; each stdout line is the JSON array of its ids. A line that
// is not a JSON string, or a vocabulary that cannot be loaded, stops the run with exit status 1.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/cli.h"
#include "qclip/error.h"
#include "text/normalizer.h"
#include "text/wordpiece.h"

int main(int argc, char** argv) {
  return qclip::cli::Main("qclip-tokenize", [&] {
    CLI::App app{"BERT WordPiece token ids for JSON Lines text (one JSON string per line)"};
    std::string vocab_path;
    size_t max_length = 0;
    bool pad = false, clean = false;
    app.add_option("--vocab", vocab_path, "vocab.txt, one token per line")->required();
    app.add_option("--max-length", max_length, "truncate to N ids, keeping [SEP] (0: no limit)");
    app.add_flag("--pad", pad, "pad with [PAD] to --max-length ids");
    app.add_flag("--clean", clean, "first clean whitespace as open_clip's HFTokenizer does");
    CLI11_PARSE(app, argc, argv);
    if (pad && max_length == 0) throw qclip::Error("--pad needs --max-length");

    const qclip::WordPieceTokenizer tokenizer = qclip::WordPieceTokenizer::FromFile(vocab_path);
    std::string line;
    for (size_t line_number = 1; std::getline(std::cin, line); ++line_number) {
      const std::string where = "stdin line " + std::to_string(line_number) + ": ";
      nlohmann::json value;
      try {
        value = nlohmann::json::parse(line);
      } catch (const nlohmann::json::parse_error& e) {
        throw qclip::Error(where + "invalid JSON: " + e.what());
      }
      if (!value.is_string()) {
        throw qclip::Error(where + "expected a JSON string such as \"Chest X-ray\", got " +
                           value.type_name());
      }
      std::string text = value.get<std::string>();
      if (clean) text = qclip::CleanTextLikeOpenClip(text);
      const std::vector<int32_t> ids =
          pad ? tokenizer.EncodePadded(text, max_length) : tokenizer.Encode(text, max_length);
      std::cout << nlohmann::json(ids).dump() << '\n';
    }
    return 0;
  });
}
