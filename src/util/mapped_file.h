// Read-only memory mapping of a whole file, shared by the tensors that view it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace qclip {

class MappedFile {
 public:
  // Maps `path` read-only. Throws qclip::Error naming the file if it cannot be opened or mapped.
  static std::shared_ptr<MappedFile> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace qclip
