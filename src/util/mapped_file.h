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

  // Gives the pages back to the kernel (they stay mapped and fault back in from the page cache
  // when read again). After loading, most of a model file has been copied into packed weights;
  // this keeps those bytes from counting twice in the process's memory.
  void DropResidentPages() const { DropResidentPages(data_, size_); }
  // The same for the whole pages within [p, p + bytes); a range outside the file is ignored.
  void DropResidentPages(const void* p, size_t bytes) const;

 private:
  MappedFile() = default;
  std::string path_;
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace qclip
