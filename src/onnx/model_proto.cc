#include "onnx/model_proto.h"

#include <google/protobuf/io/coded_stream.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "onnx_qclip/onnx.pb.h"
#include "qclip/error.h"
#include "qclip/tensor.h"
#include "util/mapped_file.h"

namespace qclip {

namespace {

// Protobuf can not parse messages of 2 GiB or more.
constexpr size_t kMaxModelBytes = size_t{INT_MAX};

}  // namespace

std::unique_ptr<onnx::ModelProto> ParseModelProto(const void* data, size_t size,
                                                  const std::string& name) {
  if (size >= kMaxModelBytes) {
    throw Error(name +
                ": model files of 2 GiB or more can not be parsed; keep weights in external data");
  }
  auto model = std::make_unique<onnx::ModelProto>();
  google::protobuf::io::CodedInputStream stream(static_cast<const uint8_t*>(data),
                                                static_cast<int>(size));
  stream.SetTotalBytesLimit(static_cast<int>(size));
  stream.SetRecursionLimit(64);
  if (!model->ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage()) {
    throw Error(name + ": not a valid ONNX model (protobuf parse failed; truncated or corrupt file?)");
  }
  if (!model->has_graph()) throw Error(name + ": the model has no graph");
  return model;
}

std::unique_ptr<onnx::ModelProto> ReadModelProto(const std::string& path) {
  const std::shared_ptr<MappedFile> file = MappedFile::Open(path);
  return ParseModelProto(file->data(), file->size(), path);
}

std::string ModelFolder(const std::string& model_path) {
  const size_t slash = model_path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : model_path.substr(0, slash);
}

ExternalData::ExternalData(std::string dir) : dir_(dir.empty() ? "." : std::move(dir)) {}

ExternalData::~ExternalData() = default;

const MappedFile& ExternalData::File(const std::string& location, const std::string& tensor) {
  auto it = files_.find(location);
  if (it != files_.end()) return *it->second;
  const std::string what = "tensor '" + tensor + "': external data ";
  // Confined to the model's folder: no absolute paths, no '..', and the resolved path
  // (symlinks followed) must still lie inside the folder.
  if (location.empty() || location[0] == '/' || location.find("..") != std::string::npos ||
      location.find('\\') != std::string::npos) {
    throw Error(what + "location '" + location +
                "' must be a plain relative path inside the model's folder");
  }
  const std::string full = dir_ + "/" + location;
  char resolved[PATH_MAX];
  char resolved_dir[PATH_MAX];
  if (realpath(full.c_str(), resolved) == nullptr) throw Error(what + "file '" + full + "' not found");
  if (realpath(dir_.c_str(), resolved_dir) == nullptr) {
    throw Error("cannot resolve folder " + dir_);
  }
  std::string inside = resolved_dir;
  if (inside.back() != '/') inside += '/';
  if (std::strncmp(resolved, inside.c_str(), inside.size()) != 0) {
    throw Error(what + "'" + location + "' resolves outside the model's folder");
  }
  return *files_.emplace(location, MappedFile::Open(resolved)).first->second;
}

std::string_view ExternalData::Bytes(const onnx::TensorProto& tensor, uint64_t bytes,
                                    std::shared_ptr<MappedFile>* file_out) {
  const std::string what = "tensor '" + tensor.name() + "': ";
  std::string location;
  uint64_t offset = 0;
  int64_t length = -1;
  for (const onnx::StringStringEntryProto& kv : tensor.external_data()) {
    char* end = nullptr;
    if (kv.key() == "location") {
      location = kv.value();
    } else if (kv.key() == "offset") {
      offset = std::strtoull(kv.value().c_str(), &end, 10);
      if (kv.value().empty() || *end != '\0') throw Error(what + "bad external data offset");
    } else if (kv.key() == "length") {
      length = static_cast<int64_t>(std::strtoull(kv.value().c_str(), &end, 10));
      if (kv.value().empty() || *end != '\0') throw Error(what + "bad external data length");
    }
  }
  const MappedFile& file = File(location, tensor.name());
  if (length >= 0 && static_cast<uint64_t>(length) != bytes) {
    const Shape shape(tensor.dims().begin(), tensor.dims().end());
    throw Error(what + "external length " + std::to_string(length) + " does not match shape " +
                ShapeToString(shape) + " (" + std::to_string(bytes) + " bytes)");
  }
  if (offset > file.size() || bytes > file.size() - offset) {
    throw Error(what + "external data [" + std::to_string(offset) + ", +" + std::to_string(bytes) +
                ") lies past the end of '" + location + "' (" + std::to_string(file.size()) +
                " bytes)");
  }
  if (file_out != nullptr) *file_out = files_.at(location);
  return {reinterpret_cast<const char*>(file.data() + offset), static_cast<size_t>(bytes)};
}

std::vector<std::shared_ptr<MappedFile>> ExternalData::files() const {
  std::vector<std::shared_ptr<MappedFile>> all;
  for (const auto& [location, file] : files_) all.push_back(file);
  return all;
}

uint64_t ExternalData::mapped_bytes() const {
  uint64_t total = 0;
  for (const auto& [location, file] : files_) total += file->size();
  return total;
}

size_t OnnxElementSize(int32_t data_type) {
  using T = onnx::TensorProto;
  switch (data_type) {
    case T::FLOAT:
    case T::INT32:
    case T::UINT32:
      return 4;
    case T::UINT8:
    case T::INT8:
    case T::BOOL:
      return 1;
    case T::UINT16:
    case T::INT16:
    case T::FLOAT16:
    case T::BFLOAT16:
      return 2;
    case T::INT64:
    case T::UINT64:
    case T::DOUBLE:
    case T::COMPLEX64:
      return 8;
    case T::COMPLEX128:
      return 16;
    default:
      return 0;
  }
}

uint64_t TensorByteSize(const onnx::TensorProto& tensor) {
  const size_t element = OnnxElementSize(tensor.data_type());
  if (element == 0) {
    throw Error("tensor '" + tensor.name() + "' has element type " +
                std::to_string(tensor.data_type()) + ", whose size qclip does not know");
  }
  uint64_t n = element;
  for (int64_t d : tensor.dims()) {
    if (d < 0 || (d > 0 && n > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d))) {
      throw Error("tensor '" + tensor.name() + "' has a bad shape");
    }
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

void EmbedExternalData(onnx::ModelProto& model, ExternalData& external) {
  for (onnx::TensorProto& t : *model.mutable_graph()->mutable_initializer()) {
    if (t.data_location() != onnx::TensorProto::EXTERNAL) continue;
    const std::string_view bytes = external.Bytes(t, TensorByteSize(t));
    t.set_raw_data(bytes.data(), bytes.size());
    t.clear_external_data();
    t.set_data_location(onnx::TensorProto::DEFAULT);  // as onnx.load_external_data_for_tensor
  }
}

uint64_t WriteModelProto(const onnx::ModelProto& model, const std::string& path) {
  const size_t bytes = model.ByteSizeLong();
  if (bytes >= kMaxModelBytes) {
    throw Error(path + ": the model would be " + std::to_string(bytes) +
                " bytes; ONNX files of 2 GiB or more can not be read back (protobuf's limit)");
  }
  std::string data;
  if (!model.SerializeToString(&data)) throw Error(path + ": could not serialize the model");
  // Write beside the target and rename: a failed write never leaves a truncated model behind.
  const std::string tmp = path + ".tmp" + std::to_string(getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) throw Error("cannot write " + path + ": " + std::strerror(errno));
  const bool written = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(tmp.c_str());
    throw Error("cannot write " + path + ": " + reason);
  }
  return data.size();
}

}  // namespace qclip
