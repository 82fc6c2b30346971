// Shape and data-movement ONNX ops: Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Concat,
// Split, Slice, Transpose, Expand, Tile, ConstantOfShape, Range. The Gather family lives in
// gather.cc and is registered from here.
//
// Inputs that decide an output shape (Reshape's shape, Slice's starts...) must be constant when
// Infer runs (ReadInts says so otherwise); Run recomputes the same plan from them.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "ops/broadcast.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/register.h"

namespace qclip {

void RegisterGatherOps(OpRegistry& r);  // gather.cc

namespace {

// Copies `rows` blocks of `block` bytes from src to dst, the row starts `src_pitch` and
// `dst_pitch` bytes apart (Concat and Split move one input's slab per outer index this way).
void CopyBlocks(const char* src, int64_t src_pitch, char* dst, int64_t dst_pitch, int64_t rows,
                int64_t block) {
  if (block == 0) return;
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(dst + r * dst_pitch, src + r * src_pitch, static_cast<size_t>(block));
  }
}

// A 1-D int64 tensor holding `values`.
Tensor IntsTensor(const std::vector<int64_t>& values) {
  Tensor t(DType::kInt64, {static_cast<int64_t>(values.size())});
  if (!values.empty()) std::memcpy(t.raw(), values.data(), t.bytes());
  return t;
}

// "float32 [2, 3]" for error messages.
std::string Describe(const Tensor& t) {
  return std::string(DTypeName(t.dtype())) + " " + ShapeToString(t.shape());
}

// Reshape, Flatten, Squeeze and Unsqueeze keep the bytes and change only the shape.
class ViewKernel : public OpKernel {
 public:
  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext&) const override {
    CopyData(*in[0], *out[0]);
  }
  bool OutputIsInput() const override { return true; }
};

// Shape (opset 15 adds start/end, clamped to [0, rank] after adding rank to negatives).
class ShapeKernel final : public OpKernel {
 public:
  explicit ShapeKernel(const KernelInit& init)
      : start_(init.node.GetInt("start", 0)),
        end_(init.node.GetInt("end", std::numeric_limits<int64_t>::max())) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, 1);
    (*out)[0] = IntsTensor(Dims(*in[0]));  // real data: the planner folds what follows
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext&) const override {
    const std::vector<int64_t> dims = Dims(*in[0]);
    if (!dims.empty()) std::memcpy(out[0]->raw(), dims.data(), dims.size() * sizeof(int64_t));
  }

 private:
  std::vector<int64_t> Dims(const Tensor& t) const {
    const int64_t rank = t.rank();
    const auto clamp = [rank](int64_t i) {
      return std::clamp(i < 0 ? i + rank : i, int64_t{0}, rank);
    };
    const int64_t begin = clamp(start_), end = std::max(begin, clamp(end_));
    return std::vector<int64_t>(t.shape().begin() + begin, t.shape().begin() + end);
  }

  int64_t start_, end_;
};

class SizeKernel final : public OpKernel {
 public:
  explicit SizeKernel(const KernelInit&) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, 1);
    Tensor size(DType::kInt64, {});
    *size.data<int64_t>() = in[0]->size();
    (*out)[0] = size;
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext&) const override {
    *out[0]->data<int64_t>() = in[0]->size();
  }
};

// Reshape (opset 5+; allowzero from 14): 0 copies the input dim unless allowzero, -1 is
// inferred from the element count.
class ReshapeKernel final : public ViewKernel {
 public:
  explicit ReshapeKernel(const KernelInit& init) : allowzero_(init.node.GetInt("allowzero", 0)) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 2, 2);
    const Shape& from = in[0]->shape();
    Shape to = ReadInts(in[1], "Reshape's shape input");
    int inferred = -1;
    bool has_zero = false;
    for (size_t i = 0; i < to.size(); ++i) {
      if (to[i] == -1) {
        if (inferred >= 0) throw Error("shape " + ShapeToString(to) + " has more than one -1");
        inferred = static_cast<int>(i);
      } else if (to[i] == 0) {
        has_zero = true;
        if (allowzero_) continue;
        if (i >= from.size()) {
          throw Error("shape " + ShapeToString(to) + " copies dim " + std::to_string(i) +
                      " of an input of rank " + std::to_string(from.size()));
        }
        to[i] = from[i];
      } else if (to[i] < -1) {
        throw Error("shape " + ShapeToString(to) + " has a negative dim");
      }
    }
    if (allowzero_ && has_zero && inferred >= 0) {
      throw Error("shape " + ShapeToString(to) + " has both 0 and -1 with allowzero=1");
    }
    const int64_t count = in[0]->size();
    if (inferred >= 0) {
      to[static_cast<size_t>(inferred)] = 1;
      const int64_t known = NumElements(to);
      if (known == 0 || count % known != 0) {
        throw Error("cannot reshape " + ShapeToString(from) + " to " + ShapeToString(to) +
                    " with the -1 dim inferred");
      }
      to[static_cast<size_t>(inferred)] = count / known;
    }
    if (NumElements(to) != count) {
      throw Error("cannot reshape " + ShapeToString(from) + " to " + ShapeToString(to));
    }
    (*out)[0] = Tensor::Meta(in[0]->dtype(), to);
  }

 private:
  bool allowzero_;
};

// Flatten: [d0..dn] -> [d0 * .. * d(axis-1), d(axis) * .. * dn]; axis in [-rank, rank].
class FlattenKernel final : public ViewKernel {
 public:
  explicit FlattenKernel(const KernelInit& init) : axis_(init.node.GetInt("axis", 1)) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, 1);
    const Shape& s = in[0]->shape();
    const int rank = in[0]->rank();
    const size_t axis = static_cast<size_t>(axis_ == rank ? rank : NormalizeAxis(axis_, rank));
    (*out)[0] =
        Tensor::Meta(in[0]->dtype(), {DimProduct(s, 0, axis), DimProduct(s, axis, s.size())});
  }

 private:
  int64_t axis_;
};

// Squeeze: axes from the attribute before opset 13, from the optional input since; no axes
// removes every dim of size 1.
class SqueezeKernel final : public ViewKernel {
 public:
  explicit SqueezeKernel(const KernelInit& init)
      : axes_from_input_(init.since_version >= 13), axes_(init.node.GetInts("axes", {})) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, 2);
    const Shape& s = in[0]->shape();
    std::vector<int64_t> axes = axes_;
    if (axes_from_input_ && in.size() == 2 && in[1] != nullptr) {
      axes = ReadInts(in[1], "Squeeze's axes input");
    }
    std::vector<bool> drop(s.size(), false);
    for (int a : NormalizeAxes(axes, in[0]->rank())) {
      if (s[static_cast<size_t>(a)] != 1) {
        throw Error("cannot squeeze axis " + std::to_string(a) + " of shape " + ShapeToString(s));
      }
      drop[static_cast<size_t>(a)] = true;
    }
    Shape to;
    for (size_t i = 0; i < s.size(); ++i) {
      if (!(axes.empty() ? s[i] == 1 : drop[i])) to.push_back(s[i]);
    }
    (*out)[0] = Tensor::Meta(in[0]->dtype(), to);
  }

 private:
  bool axes_from_input_;
  std::vector<int64_t> axes_;
};

// Unsqueeze: inserts dims of size 1 at `axes`, which index the output (attribute before
// opset 13, input since).
class UnsqueezeKernel final : public ViewKernel {
 public:
  explicit UnsqueezeKernel(const KernelInit& init)
      : axes_from_input_(init.since_version >= 13), axes_(init.node.GetInts("axes", {})) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, axes_from_input_ ? 2 : 1, axes_from_input_ ? 2 : 1);
    const std::vector<int64_t> axes =
        axes_from_input_ ? ReadInts(in[1], "Unsqueeze's axes input") : axes_;
    const Shape& s = in[0]->shape();
    const int rank = in[0]->rank() + static_cast<int>(axes.size());
    std::vector<bool> inserted(static_cast<size_t>(rank), false);
    for (int a : NormalizeAxes(axes, rank)) inserted[static_cast<size_t>(a)] = true;
    Shape to;
    auto next = s.begin();
    for (bool one : inserted) to.push_back(one ? 1 : *next++);
    (*out)[0] = Tensor::Meta(in[0]->dtype(), to);
  }

 private:
  bool axes_from_input_;
  std::vector<int64_t> axes_;
};

class ConcatKernel final : public OpKernel {
 public:
  explicit ConcatKernel(const KernelInit& init) : axis_(init.node.GetInt("axis")) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, SIZE_MAX);
    const Tensor& first = *in[0];
    const int axis = NormalizeAxis(axis_, first.rank());
    Shape shape = first.shape();
    shape[static_cast<size_t>(axis)] = 0;
    for (const Tensor* t : in) {
      if (t == nullptr) throw Error("Concat inputs cannot be omitted");
      bool compatible = t->dtype() == first.dtype() && t->rank() == first.rank();
      for (int d = 0; d < first.rank() && compatible; ++d) {
        compatible = d == axis || t->dim(d) == first.dim(d);
      }
      if (!compatible) {
        throw Error("cannot concatenate " + Describe(*t) + " and " + Describe(first) +
                    " along axis " + std::to_string(axis));
      }
      shape[static_cast<size_t>(axis)] += t->dim(axis);
    }
    (*out)[0] = Tensor::Meta(first.dtype(), shape);
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext&) const override {
    Tensor& y = *out[0];
    const size_t axis = static_cast<size_t>(NormalizeAxis(axis_, y.rank()));
    const int64_t outer = DimProduct(y.shape(), 0, axis);
    const int64_t inner_bytes = DimProduct(y.shape(), axis + 1, y.shape().size()) *
                                static_cast<int64_t>(DTypeSize(y.dtype()));
    const int64_t out_pitch = y.shape()[axis] * inner_bytes;
    char* dst = static_cast<char*>(y.raw());
    for (const Tensor* t : in) {
      const int64_t block = t->shape()[axis] * inner_bytes;
      CopyBlocks(static_cast<const char*>(t->raw()), block, dst, out_pitch, outer, block);
      dst += block;
    }
  }

 private:
  int64_t axis_;
};

// Split along `axis` into the node's outputs. Sizes come from the `split` input (opset 13+) or
// attribute (before 13); else from num_outputs (opset 18: chunks of ceil(dim / n), the last one
// smaller); else the dim is split evenly.
class SplitKernel final : public OpKernel {
 public:
  explicit SplitKernel(const KernelInit& init)
      : axis_(init.node.GetInt("axis", 0)),
        split_from_input_(init.since_version >= 13),
        split_attr_(init.node.GetInts("split", {})),
        num_outputs_(init.node.GetInt("num_outputs", 0)) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, 2);
    const Tensor& x = *in[0];
    const int axis = NormalizeAxis(axis_, x.rank());
    if (out->empty()) throw Error("Split has no outputs");
    Shape shape = x.shape();
    const std::vector<int64_t> sizes = Sizes(in, shape[static_cast<size_t>(axis)], out->size());
    for (size_t i = 0; i < out->size(); ++i) {
      shape[static_cast<size_t>(axis)] = sizes[i];
      (*out)[i] = Tensor::Meta(x.dtype(), shape);
    }
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext&) const override {
    const Tensor& x = *in[0];
    const size_t axis = static_cast<size_t>(NormalizeAxis(axis_, x.rank()));
    const int64_t outer = DimProduct(x.shape(), 0, axis);
    const int64_t inner_bytes = DimProduct(x.shape(), axis + 1, x.shape().size()) *
                                static_cast<int64_t>(DTypeSize(x.dtype()));
    const int64_t in_pitch = x.shape()[axis] * inner_bytes;
    const std::vector<int64_t> sizes = Sizes(in, x.shape()[axis], out.size());
    const char* src = static_cast<const char*>(x.raw());
    for (size_t i = 0; i < out.size(); ++i) {
      const int64_t block = sizes[i] * inner_bytes;
      if (out[i] != nullptr) {  // an omitted output still takes its slab
        CopyBlocks(src, in_pitch, static_cast<char*>(out[i]->raw()), block, outer, block);
      }
      src += block;
    }
  }

 private:
  std::vector<int64_t> Sizes(const std::vector<const Tensor*>& in, int64_t dim, size_t n) const {
    std::vector<int64_t> sizes = split_attr_;
    if (split_from_input_ && in.size() == 2 && in[1] != nullptr) {
      sizes = ReadInts(in[1], "Split's split input");
    }
    if (sizes.empty()) {
      if (num_outputs_ != 0 && static_cast<size_t>(num_outputs_) != n) {
        throw Error("num_outputs is " + std::to_string(num_outputs_) + " but the node has " +
                    std::to_string(n) + " outputs");
      }
      const int64_t count = static_cast<int64_t>(n);
      const int64_t chunk = num_outputs_ != 0 ? (dim + count - 1) / count : dim / count;
      if (num_outputs_ == 0 ? dim % count != 0 : chunk * (count - 1) > dim) {
        throw Error("cannot split a dim of " + std::to_string(dim) + " into " + std::to_string(n) +
                    " parts");
      }
      sizes.assign(n, chunk);
      sizes.back() = dim - chunk * (count - 1);
    }
    int64_t total = 0;
    for (int64_t s : sizes) {
      if (s < 0) throw Error("split sizes must not be negative");
      total += s;
    }
    if (sizes.size() != n || total != dim) {
      throw Error("split sizes " + ShapeToString(sizes) + " do not split a dim of " +
                  std::to_string(dim) + " into " + std::to_string(n) + " outputs");
    }
    return sizes;
  }

  int64_t axis_;
  bool split_from_input_;
  std::vector<int64_t> split_attr_;
  int64_t num_outputs_;
};

// Slice: starts/ends/axes attributes before opset 10; starts, ends, axes, steps inputs since.
// Per axis (ONNX spec): negative starts/ends add the dim, then clamp to [0, dim] for positive
// steps and [-1, dim - 1] (starts: [0, dim - 1]) for negative ones, so INT64_MAX / INT64_MIN mean
// "to the end".
class SliceKernel final : public OpKernel {
 public:
  explicit SliceKernel(const KernelInit& init)
      : from_inputs_(init.since_version >= 10),
        starts_(init.node.GetInts("starts", {})),
        ends_(init.node.GetInts("ends", {})),
        axes_(init.node.GetInts("axes", {})) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, from_inputs_ ? 3 : 1, from_inputs_ ? 5 : 1);
    (*out)[0] = Tensor::Meta(in[0]->dtype(), Plan(in).shape);
  }

  std::shared_ptr<const OpState> Prepare(const std::vector<const Tensor*>& in, int) const override {
    const View view = Plan(in);
    return std::make_shared<StridedView>(view.shape, view.strides, view.offset);
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    StridedCopy(in[0]->raw(), PreparedState<StridedView>(ctx), DTypeSize(in[0]->dtype()),
                out[0]->raw(), *ctx.pool);
  }

 private:
  // The slice as a strided view of the input, in elements.
  struct View {
    Shape shape;
    int64_t offset = 0;
    std::vector<int64_t> strides;
  };

  View Plan(const std::vector<const Tensor*>& in) const {
    const Tensor& x = *in[0];
    const auto optional = [&](size_t i, const char* what) {
      return i < in.size() && in[i] != nullptr ? ReadInts(in[i], what) : std::vector<int64_t>{};
    };
    const std::vector<int64_t> starts = from_inputs_ ? ReadInts(in[1], "Slice's starts") : starts_;
    const std::vector<int64_t> ends = from_inputs_ ? ReadInts(in[2], "Slice's ends") : ends_;
    std::vector<int64_t> axes = from_inputs_ ? optional(3, "Slice's axes") : axes_;
    std::vector<int64_t> steps = optional(4, "Slice's steps");
    if (axes.empty()) {
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    }
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() ||
        steps.size() != starts.size()) {
      throw Error("Slice's starts, ends, axes and steps differ in length");
    }
    View view{x.shape(), 0, DenseStrides(x.shape())};
    const std::vector<int> dims = NormalizeAxes(axes, x.rank());
    for (size_t i = 0; i < dims.size(); ++i) {
      const size_t d = static_cast<size_t>(dims[i]);
      const int64_t size = x.shape()[d];
      // |step| >= size takes at most one element; clamping keeps the arithmetic in range.
      const int64_t step = std::clamp(steps[i], -std::numeric_limits<int64_t>::max(), size + 1);
      if (step == 0) throw Error("Slice step cannot be 0");
      int64_t start = starts[i] < 0 ? starts[i] + size : starts[i];
      int64_t end = ends[i] < 0 ? ends[i] + size : ends[i];
      int64_t count;
      if (size == 0) {
        count = 0;
      } else if (step > 0) {
        start = std::clamp<int64_t>(start, 0, size);
        end = std::clamp<int64_t>(end, 0, size);
        count = end > start ? (end - start - 1) / step + 1 : 0;
      } else {
        start = std::clamp<int64_t>(start, 0, size - 1);
        end = std::clamp<int64_t>(end, -1, size - 1);
        count = start > end ? (start - end - 1) / -step + 1 : 0;
      }
      view.shape[d] = count;
      if (count > 0) view.offset += start * view.strides[d];
      view.strides[d] *= count > 1 ? step : 1;
    }
    return view;
  }

  bool from_inputs_;
  std::vector<int64_t> starts_, ends_, axes_;
};

// Transpose: out dim i is input dim perm[i] (default: reversed). A strided copy: moving the
// innermost dim along (e.g. [B,S,H,D] -> [B,H,S,D]) copies contiguous rows.
class TransposeKernel final : public OpKernel {
 public:
  explicit TransposeKernel(const KernelInit& init) : perm_(init.node.GetInts("perm", {})) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, 1);
    const std::vector<int> perm = Perm(in[0]->rank());
    Shape shape;
    for (int p : perm) shape.push_back(in[0]->dim(p));
    (*out)[0] = Tensor::Meta(in[0]->dtype(), shape);
  }

  std::shared_ptr<const OpState> Prepare(const std::vector<const Tensor*>& in, int) const override {
    const std::vector<int64_t> dense = DenseStrides(in[0]->shape());
    Shape shape;
    std::vector<int64_t> strides;
    for (int p : Perm(in[0]->rank())) {
      shape.push_back(in[0]->dim(p));
      strides.push_back(dense[static_cast<size_t>(p)]);
    }
    return std::make_shared<StridedView>(shape, strides);
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    StridedCopy(in[0]->raw(), PreparedState<StridedView>(ctx), DTypeSize(in[0]->dtype()),
                out[0]->raw(), *ctx.pool);
  }

 private:
  std::vector<int> Perm(int rank) const {
    std::vector<int> perm;
    for (int i = 0; i < rank; ++i) perm.push_back(rank - 1 - i);
    if (perm_.empty()) return perm;
    if (perm_.size() != static_cast<size_t>(rank)) {
      throw Error("perm " + ShapeToString(perm_) + " does not match rank " + std::to_string(rank));
    }
    return NormalizeAxes(perm_, rank);  // in range and no repeats: a permutation
  }

  std::vector<int64_t> perm_;
};

// Expand: broadcasts the input against the constant `shape` input (bidirectionally: a 1 in
// `shape` keeps the input's dim).
class ExpandKernel final : public OpKernel {
 public:
  explicit ExpandKernel(const KernelInit&) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 2, 2);
    const Shape shape = BroadcastShapes(in[0]->shape(), ReadInts(in[1], "Expand's shape input"));
    (*out)[0] = Tensor::Meta(in[0]->dtype(), shape);
  }

  std::shared_ptr<const OpState> Prepare(const std::vector<const Tensor*>& in, int) const override {
    const Shape shape = BroadcastShapes(in[0]->shape(), ReadInts(in[1], "Expand's shape input"));
    return std::make_shared<StridedView>(
        shape, BroadcastStrides(in[0]->shape(), static_cast<int>(shape.size())));
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    StridedCopy(in[0]->raw(), PreparedState<StridedView>(ctx), DTypeSize(in[0]->dtype()),
                out[0]->raw(), *ctx.pool);
  }
};

// Tile: out dim d = in dim d * repeats[d]. The output is the dense [r0, d0, r1, d1, ...] view
// of the input with stride 0 along each repeat dim.
class TileKernel final : public OpKernel {
 public:
  explicit TileKernel(const KernelInit&) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 2, 2);
    const std::vector<int64_t> repeats = ReadInts(in[1], "Tile's repeats input");
    if (repeats.size() != static_cast<size_t>(in[0]->rank())) {
      throw Error("Tile repeats " + ShapeToString(repeats) + " do not match rank " +
                  std::to_string(in[0]->rank()));
    }
    Shape shape = in[0]->shape();
    for (size_t d = 0; d < shape.size(); ++d) {
      if (repeats[d] < 0) throw Error("Tile repeats must not be negative");
      shape[d] = NumElements({shape[d], repeats[d]});
    }
    (*out)[0] = Tensor::Meta(in[0]->dtype(), shape);
  }

  std::shared_ptr<const OpState> Prepare(const std::vector<const Tensor*>& in, int) const override {
    const Tensor& x = *in[0];
    const std::vector<int64_t> repeats = ReadInts(in[1], "Tile's repeats input");
    const std::vector<int64_t> dense = DenseStrides(x.shape());
    Shape shape;
    std::vector<int64_t> strides;
    for (int d = 0; d < x.rank(); ++d) {
      shape.insert(shape.end(), {repeats[static_cast<size_t>(d)], x.dim(d)});
      strides.insert(strides.end(), {0, dense[static_cast<size_t>(d)]});
    }
    return std::make_shared<StridedView>(shape, strides);
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    StridedCopy(in[0]->raw(), PreparedState<StridedView>(ctx), DTypeSize(in[0]->dtype()),
                out[0]->raw(), *ctx.pool);
  }
};

// ConstantOfShape: a tensor of the constant `shape` input filled with the one-element `value`
// attribute (default float32 0).
class ConstantOfShapeKernel final : public OpKernel {
 public:
  explicit ConstantOfShapeKernel(const KernelInit& init) {
    if (init.node.has("value")) {
      value_ = init.node.GetTensor("value");
      if (value_.size() != 1 || !value_.has_data()) {
        throw Error("ConstantOfShape's value must have exactly one element");
      }
    } else {
      value_ = Tensor(DType::kFloat32, {1});
      *value_.data<float>() = 0.0f;
    }
  }

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, 1);
    const Shape shape = ReadInts(in[0], "ConstantOfShape's shape input");
    for (int64_t d : shape) {
      if (d < 0) throw Error("ConstantOfShape shape " + ShapeToString(shape) + " is negative");
    }
    (*out)[0] = Tensor::Meta(value_.dtype(), shape);
  }

  void Run(const std::vector<const Tensor*>&, const std::vector<Tensor*>& out,
           RunContext&) const override {
    const size_t elem = DTypeSize(value_.dtype());
    char* dst = static_cast<char*>(out[0]->raw());
    for (int64_t i = 0; i < out[0]->size(); ++i) std::memcpy(dst + i * elem, value_.raw(), elem);
  }

 private:
  Tensor value_;
};

// Range(start, limit, delta), scalars of one dtype. Like ONNX Runtime: the count is
// ceil((limit - start) / delta) in double, and float values accumulate (start, start + delta,
// ...; float16 accumulates in float32).
class RangeKernel final : public OpKernel {
 public:
  explicit RangeKernel(const KernelInit&) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 3, 3);
    for (const Tensor* t : in) {
      RequireDType(*t, {DType::kFloat32, DType::kFloat16, DType::kInt32, DType::kInt64},
                   "Range input");
      if (t->dtype() != in[0]->dtype() || t->size() != 1 || t->rank() > 1) {
        throw Error("Range's start, limit and delta must be scalars of one dtype");
      }
      if (!t->has_data()) {
        throw Error(
            "Range's inputs must be constants or computed from input shapes only; qclip "
            "does not support data-dependent shapes");
      }
    }
    int64_t count = 0;
    VisitNumeric(in[0]->dtype(), [&](auto zero) {
      using T = decltype(zero);
      const auto start = Widen(*in[0]->data<T>()), limit = Widen(*in[1]->data<T>()),
                 delta = Widen(*in[2]->data<T>());
      if (delta == 0) throw Error("Range's delta cannot be 0");
      // Floats subtract in their own type first, as ONNX Runtime does; integers in double,
      // where they cannot overflow.
      const double span = std::is_integral_v<decltype(start)>
                              ? static_cast<double>(limit) - static_cast<double>(start)
                              : static_cast<double>(limit - start);
      const double n = std::ceil(span / static_cast<double>(delta));
      if (n > static_cast<double>(int64_t{1} << 40)) throw Error("Range is too long");
      count = n > 0 ? static_cast<int64_t>(n) : 0;
    });
    (*out)[0] = Tensor::Meta(in[0]->dtype(), {count});
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext&) const override {
    VisitNumeric(in[0]->dtype(), [&](auto zero) {
      using T = decltype(zero);
      auto value = Widen(*in[0]->data<T>());
      const auto delta = Widen(*in[2]->data<T>());
      T* y = out[0]->data<T>();
      for (int64_t i = 0; i < out[0]->size(); ++i) {
        if constexpr (std::is_integral_v<T>) {
          // start + i * delta modulo 2^64: exact for every in-range value, no overflow.
          y[i] = static_cast<T>(static_cast<uint64_t>(value) +
                                static_cast<uint64_t>(i) * static_cast<uint64_t>(delta));
        } else {
          y[i] = Narrow<T>(value);
          value += delta;
        }
      }
    });
  }
};

}  // namespace

void RegisterShapeOps(OpRegistry& r) {
  // Versions: the first opset with each form this file reads; a later version that only adds
  // dtypes or attributes we read with defaults needs no entry.
  r.Add({"", "Shape", 1, &MakeKernel<ShapeKernel>});
  r.Add({"", "Size", 1, &MakeKernel<SizeKernel>});
  r.Add({"", "Reshape", 5, &MakeKernel<ReshapeKernel>});
  r.Add({"", "Flatten", 1, &MakeKernel<FlattenKernel>});
  r.Add({"", "Squeeze", 1, &MakeKernel<SqueezeKernel>});
  r.Add({"", "Squeeze", 13, &MakeKernel<SqueezeKernel>});
  r.Add({"", "Unsqueeze", 1, &MakeKernel<UnsqueezeKernel>});
  r.Add({"", "Unsqueeze", 13, &MakeKernel<UnsqueezeKernel>});
  r.Add({"", "Concat", 4, &MakeKernel<ConcatKernel>});
  r.Add({"", "Split", 2, &MakeKernel<SplitKernel>});
  r.Add({"", "Split", 13, &MakeKernel<SplitKernel>});
  r.Add({"", "Slice", 1, &MakeKernel<SliceKernel>});
  r.Add({"", "Slice", 10, &MakeKernel<SliceKernel>});
  r.Add({"", "Transpose", 1, &MakeKernel<TransposeKernel>});
  r.Add({"", "Expand", 8, &MakeKernel<ExpandKernel>});
  r.Add({"", "Tile", 6, &MakeKernel<TileKernel>});
  r.Add({"", "ConstantOfShape", 9, &MakeKernel<ConstantOfShapeKernel>});
  r.Add({"", "Range", 11, &MakeKernel<RangeKernel>});
  RegisterGatherOps(r);
}

}  // namespace qclip
