// qclip::Error: the one exception type thrown across the public API.
#pragma once

#include <stdexcept>
#include <string>

namespace qclip {

// Thrown for every failure a caller can cause: unreadable or hostile model files,
// unsupported ops, wrong input names, shapes or dtypes, bad images or vocabularies.
// The message names the file, node, op and shapes involved where they are known.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace qclip
