#include "onnx/loader.h"

#include <limits.h>

#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "onnx/model_proto.h"
#include "onnx/raw_data.h"
#include "onnx_qclip/onnx.pb.h"
#include "qclip/error.h"
#include "util/mapped_file.h"

namespace qclip {

namespace {

// Oldest and newest default-domain opsets whose op semantics qclip implements.
constexpr int kMinOpset = 11;
constexpr int kMaxOpset = 21;
// Protobuf can not parse messages of 2 GiB or more.
constexpr size_t kMaxModelBytes = size_t{INT_MAX};

struct Loader {
  Loader(std::string name, const std::string& dir) : path(std::move(name)), external(dir) {}

  std::string path;  // for messages
  std::shared_ptr<onnx::ModelProto> model;
  ExternalData external;  // data files, relative to the model's folder
  // The model's bytes, when their initializers' raw_data was cut out before parsing
  // (SplitRawData), with the spans per initializer; `bytes_owner` keeps the bytes alive for the
  // tensors that view them (null: copy instead).
  const uint8_t* bytes = nullptr;
  std::shared_ptr<MappedFile> bytes_owner;
  std::vector<SplitModel::Span> raw_spans;

  [[noreturn]] void Fail(const std::string& what) const { throw Error(path + ": " + what); }

  DType ToDType(int32_t onnx_type, const std::string& what) const {
    switch (onnx_type) {
      case onnx::TensorProto::FLOAT:
        return DType::kFloat32;
      case onnx::TensorProto::UINT8:
        return DType::kUInt8;
      case onnx::TensorProto::INT8:
        return DType::kInt8;
      case onnx::TensorProto::INT32:
        return DType::kInt32;
      case onnx::TensorProto::INT64:
        return DType::kInt64;
      case onnx::TensorProto::BOOL:
        return DType::kBool;
      case onnx::TensorProto::FLOAT16:
        return DType::kFloat16;
      default:
        Fail(what + " has element type " + std::to_string(onnx_type) +
             ", which qclip does not support");
    }
  }

  // The tensor over `bytes` bytes at p, which `owner` keeps alive: a view when p is aligned for
  // the element type or the tensor is a large float32 weight (kInPlaceMisalignedBytes), else a
  // copy (after which the file's pages are given back, so that the bytes are not held twice
  // while the model loads).
  static Tensor ViewOrCopy(DType dtype, const Shape& shape, const void* p, size_t bytes,
                           const std::shared_ptr<MappedFile>& owner) {
    if (reinterpret_cast<uintptr_t>(p) % DTypeSize(dtype) == 0 ||
        (dtype == DType::kFloat32 && bytes >= kInPlaceMisalignedBytes)) {
      return Tensor::View(dtype, shape, const_cast<void*>(p), owner);
    }
    Tensor t(dtype, shape);
    if (bytes != 0) std::memcpy(t.raw(), p, bytes);
    owner->DropResidentPages(p, bytes);
    return t;
  }

  // ONNX external data: mapped, confined to the model's folder, bounds-checked (ExternalData).
  Tensor ExternalTensor(const onnx::TensorProto& tp, DType dtype, const Shape& shape) {
    const uint64_t bytes = static_cast<uint64_t>(NumElements(shape)) * DTypeSize(dtype);
    std::shared_ptr<MappedFile> file;
    std::string_view data;
    try {
      data = external.Bytes(tp, bytes, &file);
    } catch (const Error& e) {
      Fail(e.what());
    }
    return ViewOrCopy(dtype, shape, data.data(), data.size(), file);
  }

  template <typename Src, typename Dst>
  Tensor FromTyped(const Src& field, DType dtype, const Shape& shape, const std::string& name) {
    Tensor t(dtype, shape);
    if (static_cast<int64_t>(field.size()) != t.size()) {
      Fail("tensor '" + name + "' has " + std::to_string(field.size()) + " values for shape " +
           ShapeToString(shape));
    }
    Dst* out = t.data<Dst>();
    for (int i = 0; i < field.size(); ++i) out[i] = static_cast<Dst>(field.Get(i));
    return t;
  }

  // Initializer `index`: its raw_data in place in the model's bytes when it was split off.
  Tensor InitializerTensor(const onnx::TensorProto& tp, size_t index) {
    if (index >= raw_spans.size() || raw_spans[index].size == SIZE_MAX) return ToTensor(tp);
    const SplitModel::Span span = raw_spans[index];
    return ToTensor(
        tp, std::string_view(reinterpret_cast<const char*>(bytes) + span.offset, span.size));
  }

  // `raw` stands for tp.raw_data() when the field was split off (SplitRawData).
  Tensor ToTensor(const onnx::TensorProto& tp, std::optional<std::string_view> split_raw = {}) {
    const std::string what = "tensor '" + tp.name() + "'";
    const DType dtype = ToDType(tp.data_type(), what);
    Shape shape(tp.dims().begin(), tp.dims().end());
    int64_t n = 0;
    try {
      n = NumElements(shape);
    } catch (const Error& e) {
      Fail(what + ": " + e.what());
    }
    if (tp.has_segment()) Fail(what + " is segmented, which qclip does not support");
    if (tp.data_location() == onnx::TensorProto::EXTERNAL) return ExternalTensor(tp, dtype, shape);
    if (tp.has_raw_data() || split_raw) {
      const std::string_view raw = split_raw ? *split_raw : std::string_view(tp.raw_data());
      if (static_cast<uint64_t>(n) > raw.size() / DTypeSize(dtype) ||
          raw.size() != static_cast<size_t>(n) * DTypeSize(dtype)) {
        Fail(what + " has " + std::to_string(raw.size()) + " bytes of data for shape " +
             ShapeToString(shape) + " of " + DTypeName(dtype));
      }
      if (!split_raw) {
        // View the protobuf's own buffer (malloc'd, so aligned for any element type).
        return Tensor::View(dtype, shape, const_cast<char*>(raw.data()), model);
      }
      // In the model's bytes: view them while they stay alive, else copy.
      if (bytes_owner != nullptr)
        return ViewOrCopy(dtype, shape, raw.data(), raw.size(), bytes_owner);
      Tensor t(dtype, shape);
      if (!raw.empty()) std::memcpy(t.raw(), raw.data(), raw.size());
      return t;
    }
    switch (dtype) {
      case DType::kFloat32:
        return FromTyped<decltype(tp.float_data()), float>(tp.float_data(), dtype, shape,
                                                           tp.name());
      case DType::kInt64:
        return FromTyped<decltype(tp.int64_data()), int64_t>(tp.int64_data(), dtype, shape,
                                                             tp.name());
      case DType::kInt32:
        return FromTyped<decltype(tp.int32_data()), int32_t>(tp.int32_data(), dtype, shape,
                                                             tp.name());
      case DType::kInt8:
        return FromTyped<decltype(tp.int32_data()), int8_t>(tp.int32_data(), dtype, shape,
                                                            tp.name());
      case DType::kUInt8:
        return FromTyped<decltype(tp.int32_data()), uint8_t>(tp.int32_data(), dtype, shape,
                                                             tp.name());
      case DType::kBool:
        return FromTyped<decltype(tp.int32_data()), uint8_t>(tp.int32_data(), dtype, shape,
                                                             tp.name());
      case DType::kFloat16:
        return FromTyped<decltype(tp.int32_data()), uint16_t>(tp.int32_data(), dtype, shape,
                                                              tp.name());
      case DType::kUndefined:
        break;
    }
    Fail(what + " has no data");
  }

  Attribute ToAttribute(const onnx::AttributeProto& ap, const std::string& node) {
    Attribute a;
    using AP = onnx::AttributeProto;
    switch (ap.type()) {
      case AP::FLOAT:
        a.type = Attribute::Type::kFloat;
        a.f = ap.f();
        break;
      case AP::INT:
        a.type = Attribute::Type::kInt;
        a.i = ap.i();
        break;
      case AP::STRING:
        a.type = Attribute::Type::kString;
        a.s = ap.s();
        break;
      case AP::TENSOR:
        a.type = Attribute::Type::kTensor;
        a.t = ToTensor(ap.t());
        break;
      case AP::FLOATS:
        a.type = Attribute::Type::kFloats;
        a.floats.assign(ap.floats().begin(), ap.floats().end());
        break;
      case AP::INTS:
        a.type = Attribute::Type::kInts;
        a.ints.assign(ap.ints().begin(), ap.ints().end());
        break;
      case AP::STRINGS:
        a.type = Attribute::Type::kStrings;
        a.strings.assign(ap.strings().begin(), ap.strings().end());
        break;
      default:
        // Graphs (If/Loop bodies), sparse tensors, type protos: no op qclip runs uses them.
        Fail("node '" + node + "': attribute '" + ap.name() +
             "' has a type qclip does not support");
    }
    return a;
  }

  // A Constant node's value (ONNX Constant: exactly one of value, value_float(s), value_int(s)).
  Tensor ConstantValue(const Node& n) {
    if (n.attrs.size() != 1) Fail(n.Describe() + " must have exactly one value attribute");
    const auto& [name, a] = *n.attrs.begin();
    if (name == "value") return n.GetTensor("value");
    if (name == "value_float") return ScalarTensor<float>(DType::kFloat32, n.GetFloat(name, 0), {});
    if (name == "value_int") return ScalarTensor<int64_t>(DType::kInt64, n.GetInt(name), {});
    if (name == "value_floats") {
      const std::vector<float> v = n.GetFloats(name, {});
      return VectorTensor(DType::kFloat32, v);
    }
    if (name == "value_ints") {
      const std::vector<int64_t> v = n.GetInts(name, {});
      return VectorTensor(DType::kInt64, v);
    }
    Fail(n.Describe() + ": unsupported Constant attribute '" + name + "'");
  }

  template <typename T>
  static Tensor ScalarTensor(DType dtype, T v, Shape shape) {
    Tensor t(dtype, std::move(shape));
    *t.data<T>() = v;
    return t;
  }
  template <typename T>
  static Tensor VectorTensor(DType dtype, const std::vector<T>& v) {
    Tensor t(dtype, {static_cast<int64_t>(v.size())});
    if (!v.empty()) std::memcpy(t.raw(), v.data(), v.size() * sizeof(T));
    return t;
  }

  void ReadValueInfo(const onnx::ValueInfoProto& vi, Value& v) {
    if (!vi.has_type() || !vi.type().has_tensor_type()) return;
    const auto& tt = vi.type().tensor_type();
    if (tt.has_elem_type()) v.dtype = ToDType(tt.elem_type(), "value '" + vi.name() + "'");
    if (!tt.has_shape()) return;
    v.has_shape = true;
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) {
        if (d.dim_value() < 0) Fail("value '" + vi.name() + "' has a negative dimension");
        v.shape.push_back(d.dim_value());
        v.dim_names.emplace_back();
      } else {
        v.shape.push_back(-1);
        v.dim_names.push_back(d.dim_param());
      }
    }
  }

  Graph Build() {
    Graph g;
    g.path = path;
    if (bytes_owner != nullptr) g.files.push_back(bytes_owner);
    if (model->ir_version() < 3)
      Fail("IR version " + std::to_string(model->ir_version()) + " is too old");
    for (const onnx::OperatorSetIdProto& op : model->opset_import()) {
      const std::string domain = op.domain() == "ai.onnx" ? "" : op.domain();
      g.opsets[domain] = static_cast<int>(op.version());
    }
    const int opset = g.opset("");
    if (opset < kMinOpset || opset > kMaxOpset) {
      Fail("default-domain opset " + std::to_string(opset) + " is not supported (qclip runs " +
           std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset) + ")");
    }
    const onnx::GraphProto& gp = model->graph();
    std::unordered_map<std::string, int> ids;
    auto value_id = [&](const std::string& name) {
      auto it = ids.find(name);
      if (it != ids.end()) return it->second;
      const int id = g.AddValue(name);
      ids.emplace(name, id);
      return id;
    };
    for (int i = 0; i < gp.initializer_size(); ++i) {
      const onnx::TensorProto& init = gp.initializer(i);
      const int id = value_id(init.name());
      if (g.values[id].is_constant()) Fail("initializer '" + init.name() + "' is defined twice");
      g.values[id].constant = InitializerTensor(init, static_cast<size_t>(i));
      g.values[id].dtype = g.values[id].constant.dtype();
    }
    if (gp.sparse_initializer_size() != 0) Fail("sparse initializers are not supported");
    for (const std::shared_ptr<MappedFile>& file : external.files()) g.files.push_back(file);
    for (const onnx::ValueInfoProto& vi : gp.input()) {
      const int id = value_id(vi.name());
      Value& v = g.values[id];
      if (v.is_constant()) continue;  // IR < 4 lists initializers as inputs too
      ReadValueInfo(vi, v);
      if (v.dtype == DType::kUndefined) Fail("graph input '" + vi.name() + "' has no tensor type");
      g.inputs.push_back(id);
    }
    for (const onnx::NodeProto& np : gp.node()) {
      Node n;
      n.name = np.name();
      n.op_type = np.op_type();
      n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
      for (const std::string& in : np.input()) n.inputs.push_back(in.empty() ? -1 : value_id(in));
      for (const std::string& out : np.output()) {
        n.outputs.push_back(out.empty() ? -1 : value_id(out));
      }
      for (const onnx::AttributeProto& ap : np.attribute()) {
        if (n.attrs.count(ap.name()))
          Fail(n.Describe() + ": attribute '" + ap.name() + "' repeats");
        n.attrs.emplace(ap.name(), ToAttribute(ap, n.name));
      }
      if (n.domain == "" && n.op_type == "Constant") {
        if (n.outputs.size() != 1 || n.outputs[0] < 0) Fail(n.Describe() + " needs one output");
        Value& v = g.values[n.outputs[0]];
        if (v.is_constant()) Fail("value '" + v.name + "' is defined twice");
        v.constant = ConstantValue(n);
        v.dtype = v.constant.dtype();
        continue;
      }
      g.nodes.push_back(std::move(n));
    }
    for (const onnx::ValueInfoProto& vi : gp.output()) {
      const auto it = ids.find(vi.name());
      if (it == ids.end()) Fail("graph output '" + vi.name() + "' is not produced by any node");
      ReadValueInfo(vi, g.values[it->second]);
      g.outputs.push_back(it->second);
    }
    if (g.outputs.empty()) Fail("the graph has no outputs");
    for (const Node& n : g.nodes) {
      for (int v : n.outputs) {
        if (v >= 0 && g.values[v].is_constant()) {
          Fail(n.Describe() + " writes '" + g.values[v].name + "', which is an initializer");
        }
      }
    }
    SortTopologically(g);
    return g;
  }
};

}  // namespace

namespace {

// Parses the model in `data` (kept alive by `owner`, or copied from when owner is null).
Graph ParseModel(const void* data, size_t size, const std::string& name, const std::string& dir,
                 std::shared_ptr<MappedFile> owner) {
  Loader loader(name, dir);
  if (size >= kMaxModelBytes) {
    loader.Fail("model files of 2 GiB or more can not be parsed; keep weights in external data");
  }
  // Cut the weights out first so that protobuf does not copy them; if the bytes are not even
  // well-formed wire format, parse them as they are and let protobuf report it.
  const auto* bytes = static_cast<const uint8_t*>(data);
  SplitModel split;
  if (SplitRawData(bytes, size, &split)) {
    loader.bytes = bytes;
    loader.bytes_owner = std::move(owner);
    loader.raw_spans = std::move(split.raw_data);
    loader.model = ParseModelProto(split.stripped.data(), split.stripped.size(), name);
  } else {
    loader.model = ParseModelProto(data, size, name);
  }
  return loader.Build();
}

}  // namespace

Graph ParseOnnxModel(const void* data, size_t size, const std::string& name,
                     const std::string& dir) {
  return ParseModel(data, size, name, dir, nullptr);
}

Graph LoadOnnxModel(const std::string& path) {
  const std::shared_ptr<MappedFile> file = MappedFile::Open(path);
  return ParseModel(file->data(), file->size(), path, ModelFolder(path), file);
}

}  // namespace qclip
