// Reading and writing onnx::ModelProto files as they are, for tools that transform a model
// rather than run it (src/onnx/quantize). The loader (src/onnx/loader) turns a file straight
// into a Graph; this keeps the protobuf so that what is not changed is written back untouched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace onnx {
class ModelProto;
class TensorProto;
}  // namespace onnx

namespace qclip {

class MappedFile;

// Parses `size` bytes as a ModelProto with the loader's limits (under 2 GiB, recursion 64).
// Throws qclip::Error naming `name` when the bytes are not a valid model.
std::unique_ptr<onnx::ModelProto> ParseModelProto(const void* data, size_t size,
                                                  const std::string& name);

// Maps and parses the file at `path`.
std::unique_ptr<onnx::ModelProto> ReadModelProto(const std::string& path);

// The folder external data locations are relative to: that of `model_path`, or ".".
std::string ModelFolder(const std::string& model_path);

// ONNX external data (TensorProto.data_location == EXTERNAL) of one model, with the loader's
// rules: a location must be a plain relative path that resolves (symlinks followed) inside the
// model's folder, and [offset, offset + length) must lie within the file. Files are mapped once,
// not read. Messages name the tensor; callers add the model's path.
class ExternalData {
 public:
  // Locations are resolved against `dir`, the model's folder.
  explicit ExternalData(std::string dir);
  ~ExternalData();

  // The `bytes` bytes of `tensor`'s data. Throws qclip::Error when a location, offset or
  // length is bad or disagrees with `bytes`.
  // `file`, when given, receives the mapped file the bytes lie in (to keep them alive).
  std::string_view Bytes(const onnx::TensorProto& tensor, uint64_t bytes,
                         std::shared_ptr<MappedFile>* file = nullptr);

  // The data files mapped so far.
  std::vector<std::shared_ptr<MappedFile>> files() const;

  // Sum of the sizes of the data files used so far.
  uint64_t mapped_bytes() const;

 private:
  const MappedFile& File(const std::string& location, const std::string& tensor);

  std::string dir_;
  std::map<std::string, std::shared_ptr<MappedFile>> files_;
};

// Bytes per element of an ONNX TensorProto data type qclip can copy as raw data; 0 otherwise
// (strings, sub-byte types).
size_t OnnxElementSize(int32_t data_type);

// The byte size of `tensor`'s data from its dims and type; throws on overflow or a type whose
// size is not fixed.
uint64_t TensorByteSize(const onnx::TensorProto& tensor);

// Moves the data of every external initializer into raw_data, so that the model is one
// self-contained file. Throws qclip::Error on bad locations or sizes.
void EmbedExternalData(onnx::ModelProto& model, ExternalData& external);

// Writes `model` to `path` (through a temporary file beside it, renamed into place) and returns
// the bytes written. Throws qclip::Error when the model would be 2 GiB or more, which protobuf
// can not read back, or when the file can not be written.
uint64_t WriteModelProto(const onnx::ModelProto& model, const std::string& path);

}  // namespace qclip
