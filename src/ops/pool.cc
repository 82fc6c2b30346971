// AveragePool over NCHW-style tensors with 1 to 3 spatial dims (the MedGemma-style vision tower
// uses a 2x2 average pool; other ranks cost nothing extra: missing dims act as size 1).
//
// Per ONNX: pads are [begin_1, ..., begin_n, end_1, ..., end_n]; auto_pad SAME_* pads to
// ceil(in / stride) outputs; ceil_mode rounds the output size up but drops a last window that
// would start in the end padding; count_include_pad divides by the window clipped to the padded
// extent, else by the window clipped to the input. Sums run in window order, like ONNX Runtime.
#include <array>

#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/register.h"

namespace qclip {
namespace {

constexpr int kMaxSpatial = 3;

// One spatial dim of a pooling window: output o covers input [o * stride - pad_begin, + kernel).
struct PoolAxis {
  int64_t in = 1, out = 1, kernel = 1, stride = 1, pad_begin = 0, pad_end = 0;
};

class AveragePoolKernel final : public OpKernel {
 public:
  explicit AveragePoolKernel(const KernelInit& init)
      : kernel_(init.node.GetInts("kernel_shape", {})),
        strides_(init.node.GetInts("strides", {})),
        pads_(init.node.GetInts("pads", {})),
        auto_pad_(init.node.GetString("auto_pad", "NOTSET")),
        count_include_pad_(init.node.GetInt("count_include_pad", 0) != 0),
        ceil_mode_(init.node.GetInt("ceil_mode", 0) != 0) {
    const size_t n = kernel_.size();
    if (n < 1 || n > kMaxSpatial) {
      throw Error("AveragePool needs kernel_shape with 1 to 3 dims");
    }
    if (strides_.empty()) strides_.assign(n, 1);
    if (pads_.empty()) pads_.assign(2 * n, 0);
    for (int64_t d : init.node.GetInts("dilations", {})) {
      if (d != 1) throw Error("AveragePool with dilations is not supported");
    }
    if (strides_.size() != n || pads_.size() != 2 * n) {
      throw Error("AveragePool's strides or pads do not match kernel_shape");
    }
    for (size_t i = 0; i < n; ++i) {
      if (kernel_[i] < 1 || strides_[i] < 1 || pads_[i] < 0 || pads_[i + n] < 0) {
        throw Error("AveragePool's kernel_shape and strides must be positive, pads not negative");
      }
    }
    if (auto_pad_ != "NOTSET" && auto_pad_ != "VALID" && auto_pad_ != "SAME_UPPER" &&
        auto_pad_ != "SAME_LOWER") {
      throw Error("unknown auto_pad '" + auto_pad_ + "'");
    }
  }

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, 1);
    RequireDType(*in[0], {DType::kFloat32, DType::kFloat16}, "input");
    if (in[0]->rank() != static_cast<int>(kernel_.size()) + 2) {
      throw Error("AveragePool with a " + std::to_string(kernel_.size()) +
                  "-d kernel needs an input of rank " + std::to_string(kernel_.size() + 2) +
                  ", got " + ShapeToString(in[0]->shape()));
    }
    const std::array<PoolAxis, kMaxSpatial> axes = Axes(in[0]->shape());
    Shape shape = {in[0]->dim(0), in[0]->dim(1)};
    for (size_t i = kMaxSpatial - kernel_.size(); i < kMaxSpatial; ++i)
      shape.push_back(axes[i].out);
    (*out)[0] = Tensor::Meta(in[0]->dtype(), shape);
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const std::array<PoolAxis, kMaxSpatial> axes = Axes(in[0]->shape());
    const int64_t planes = in[0]->dim(0) * in[0]->dim(1);
    VisitNumeric(in[0]->dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (!std::is_integral_v<T>) {
        const T* src = in[0]->data<T>();
        T* dst = out[0]->data<T>();
        const int64_t in_plane = axes[0].in * axes[1].in * axes[2].in;
        const int64_t out_plane = axes[0].out * axes[1].out * axes[2].out;
        ctx.pool->ParallelFor(planes, [&](int64_t p, int) {
          PoolPlane(axes, src + p * in_plane, dst + p * out_plane);
        });
      }
    });
  }

 private:
  // The spatial axes, outermost first, padded at the front with size-1 axes to kMaxSpatial.
  std::array<PoolAxis, kMaxSpatial> Axes(const Shape& shape) const {
    std::array<PoolAxis, kMaxSpatial> axes{};
    const size_t n = kernel_.size();
    for (size_t i = 0; i < n; ++i) {
      PoolAxis& a = axes[kMaxSpatial - n + i];
      a.in = shape[2 + i];
      a.kernel = kernel_[i];
      a.stride = strides_[i];
      a.pad_begin = pads_[i];
      a.pad_end = pads_[i + n];
      if (auto_pad_ == "VALID") {
        a.pad_begin = a.pad_end = 0;
      } else if (auto_pad_ != "NOTSET") {  // SAME_*: ceil(in / stride) outputs
        const int64_t target = (a.in + a.stride - 1) / a.stride;
        const int64_t total = std::max<int64_t>(0, (target - 1) * a.stride + a.kernel - a.in);
        a.pad_begin = auto_pad_ == "SAME_UPPER" ? total / 2 : total - total / 2;
        a.pad_end = total - a.pad_begin;
      }
      const int64_t span = a.in + a.pad_begin + a.pad_end - a.kernel;
      if (span < 0) {
        throw Error("AveragePool kernel " + ShapeToString(kernel_) +
                    " is larger than the padded input " + ShapeToString(shape));
      }
      a.out = (ceil_mode_ ? (span + a.stride - 1) / a.stride : span / a.stride) + 1;
      // ceil_mode never starts a window in the end padding.
      if (ceil_mode_ && (a.out - 1) * a.stride >= a.in + a.pad_begin) --a.out;
    }
    return axes;
  }

  template <typename T>
  void PoolPlane(const std::array<PoolAxis, kMaxSpatial>& axes, const T* src, T* dst) const {
    const PoolAxis &ad = axes[0], &ah = axes[1], &aw = axes[2];
    for (int64_t od = 0; od < ad.out; ++od) {
      for (int64_t oh = 0; oh < ah.out; ++oh) {
        for (int64_t ow = 0; ow < aw.out; ++ow) {
          int64_t begin[kMaxSpatial], end[kMaxSpatial];
          int64_t padded_count = 1, count = 1;
          const int64_t o[kMaxSpatial] = {od, oh, ow};
          for (int i = 0; i < kMaxSpatial; ++i) {
            const PoolAxis& a = axes[static_cast<size_t>(i)];
            const int64_t start = o[i] * a.stride - a.pad_begin;
            const int64_t stop = std::min(start + a.kernel, a.in + a.pad_end);
            padded_count *= stop - start;
            begin[i] = std::max<int64_t>(start, 0);
            end[i] = std::min(stop, a.in);
            count *= end[i] - begin[i];
          }
          float sum = 0.0f;
          for (int64_t d = begin[0]; d < end[0]; ++d) {
            for (int64_t h = begin[1]; h < end[1]; ++h) {
              const T* row = src + (d * ah.in + h) * aw.in;
              for (int64_t w = begin[2]; w < end[2]; ++w) sum += Widen(row[w]);
            }
          }
          const int64_t divisor = count_include_pad_ ? padded_count : count;
          dst[(od * ah.out + oh) * aw.out + ow] =
              Narrow<T>(divisor > 0 ? sum / static_cast<float>(divisor) : 0.0f);
        }
      }
    }
  }

  std::vector<int64_t> kernel_, strides_, pads_;
  std::string auto_pad_;
  bool count_include_pad_;
  bool ceil_mode_;
};

}  // namespace

void RegisterPoolOps(OpRegistry& r) {
  r.Add({"", "AveragePool", 7, &MakeKernel<AveragePoolKernel>});
}

}  // namespace qclip
