// Conv (ONNX Conv-1/11) on float32, 2-D NCHW: strides, pads or auto_pad, dilations, groups and
// bias, as im2col + GEMM.
//
// Per image and group, im2col writes one row per output pixel holding its receptive field in
// (channel, kernel row, kernel column) order, the order of the weight's [M, C/group, kH, kW]
// layout, so out[pixel, m] = rows · Wᵀ with the weight packed once at load as a transposed B.
// The GEMM's [pixels, M] result is then transposed into NCHW. For the ViT patch embedding
// (kernel = stride = 16, no padding) im2col only regroups each patch's 16-float runs.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/gemm_f32.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/register.h"
#include "util/thread_pool.h"

namespace qclip {
namespace {

// The convolution's geometry for one input shape.
struct ConvGeometry {
  int64_t batch, in_channels, height, width;
  int64_t out_channels, kernel_h, kernel_w;
  int64_t pad_top, pad_left;
  int64_t out_h, out_w;
  int64_t groups;
  int64_t group_in() const { return in_channels / groups; }
  int64_t group_out() const { return out_channels / groups; }
  int64_t patch() const { return group_in() * kernel_h * kernel_w; }  // GEMM K
  int64_t pixels() const { return out_h * out_w; }                    // GEMM M
};

class ConvKernel final : public OpKernel {
 public:
  explicit ConvKernel(const KernelInit& init)
      : auto_pad_(init.node.GetString("auto_pad", "NOTSET")),
        groups_(init.node.GetInt("group", 1)),
        kernel_shape_(init.node.GetInts("kernel_shape", {})),
        pads_(init.node.GetInts("pads", {0, 0, 0, 0})),
        strides_(init.node.GetInts("strides", {1, 1})),
        dilations_(init.node.GetInts("dilations", {1, 1})) {
    if (auto_pad_ != "NOTSET" && auto_pad_ != "VALID" && auto_pad_ != "SAME_UPPER" &&
        auto_pad_ != "SAME_LOWER") {
      throw Error("Conv auto_pad '" + auto_pad_ +
                  "' is not NOTSET, VALID, SAME_UPPER or SAME_LOWER");
    }
    if (pads_.size() != 4 || strides_.size() != 2 || dilations_.size() != 2 ||
        (!kernel_shape_.empty() && kernel_shape_.size() != 2)) {
      throw Error("qclip supports 2-D Conv only (pads, strides, dilations of 2-D)");
    }
    for (int64_t v : strides_) {
      if (v < 1) throw Error("Conv strides must be >= 1");
    }
    for (int64_t v : dilations_) {
      if (v < 1) throw Error("Conv dilations must be >= 1");
    }
    for (int64_t v : pads_) {
      if (v < 0) throw Error("Conv pads must be >= 0");
    }
    if (groups_ < 1) throw Error("Conv group must be >= 1");
    const Tensor* w = init.constants.size() > 1 ? init.constants[1] : nullptr;
    if (w != nullptr && w->dtype() == DType::kFloat32 && w->rank() == 4 &&
        w->dim(0) % groups_ == 0) {
      packed_ = PackWeights(*w);
    }
  }

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 2, 3);
    RequireDType(*in[0], {DType::kFloat32}, "Conv's X");
    RequireDType(*in[1], {DType::kFloat32}, "Conv's W");
    const ConvGeometry g = Geometry(in);
    if (in.size() > 2 && in[2] != nullptr) {
      RequireDType(*in[2], {DType::kFloat32}, "Conv's B");
      if (in[2]->shape() != Shape{g.out_channels}) {
        throw Error("Conv's B has shape " + ShapeToString(in[2]->shape()) + ", expected [" +
                    std::to_string(g.out_channels) + "]");
      }
    }
    (*out)[0] = Tensor::Meta(DType::kFloat32, {g.batch, g.out_channels, g.out_h, g.out_w});
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const ConvGeometry g = Geometry(in);
    std::vector<PackedGemmB> packed_now;  // a weight that was not constant at load
    if (packed_.empty()) packed_now = PackWeights(*in[1]);
    const std::vector<PackedGemmB>& packed = packed_.empty() ? packed_now : packed_;
    const float* x = in[0]->data<float>();
    const float* bias = in.size() > 2 && in[2] != nullptr ? in[2]->data<float>() : nullptr;
    float* y = out[0]->data<float>();

    // One [pixels, patch] im2col matrix and one [pixels, group_out] result per (image, group).
    const int64_t jobs = g.batch * g.groups;
    const int64_t pixels = g.pixels(), patch = g.patch(), group_out = g.group_out();
    ScratchCarver carver(ctx.scratch);
    const Scratch s = Carve(carver, g);
    float* const columns = s.columns;
    float* const result = s.result;

    // Fixed chunks of output rows for im2col and for the transposition.
    constexpr int64_t kRowsPerTask = 32;
    const int64_t row_chunks = (pixels + kRowsPerTask - 1) / kRowsPerTask;
    ctx.pool->ParallelFor(jobs * row_chunks, [&](int64_t task, int) {
      const int64_t job = task / row_chunks, first = task % row_chunks * kRowsPerTask;
      const int64_t image = job / g.groups, group = job % g.groups;
      const float* x_group =
          x + (image * g.in_channels + group * g.group_in()) * g.height * g.width;
      for (int64_t p = first; p < std::min(pixels, first + kRowsPerTask); ++p) {
        Im2ColRow(g, x_group, p, columns + (job * pixels + p) * patch);
      }
    });

    const GemmTiles tiles(pixels, group_out, ctx.pool->size());
    ctx.pool->ParallelFor(jobs * tiles.count(), [&](int64_t task, int) {
      const int64_t job = task / tiles.count(), group = job % g.groups;
      GemmEpilogue epilogue;
      epilogue.bias = bias != nullptr ? bias + group * group_out : nullptr;
      GemmF32Tile(columns + job * pixels * patch, patch, packed[group],
                  result + job * pixels * group_out, group_out, tiles, epilogue,
                  task % tiles.count());
    });

    // result[job][pixel][m] -> y[image][group * group_out + m][pixel], chunked by channel.
    const int64_t channel_chunks = (group_out + kRowsPerTask - 1) / kRowsPerTask;
    ctx.pool->ParallelFor(jobs * channel_chunks, [&](int64_t task, int) {
      const int64_t job = task / channel_chunks, first = task % channel_chunks * kRowsPerTask;
      const float* r = result + job * pixels * group_out;
      float* y_job = y + job * group_out * pixels;  // jobs are (image, group) in channel order
      for (int64_t m = first; m < std::min(group_out, first + kRowsPerTask); ++m) {
        for (int64_t p = 0; p < pixels; ++p) y_job[m * pixels + p] = r[p * group_out + m];
      }
    });
  }

  bool PackedInput(size_t i) const override { return i == 1 && !packed_.empty(); }

  size_t ScratchBytes(const std::vector<const Tensor*>& in, int) const override {
    ScratchCarver carver(nullptr);
    Carve(carver, Geometry(in));
    return carver.bytes();
  }

 private:
  // The im2col matrices and the GEMM results of every (image, group).
  struct Scratch {
    float* columns;  // [jobs, pixels, patch]
    float* result;   // [jobs, pixels, group_out]
  };
  static Scratch Carve(ScratchCarver& carver, const ConvGeometry& g) {
    // Checked products: a hostile model's kernel and output sizes can be anything.
    const int64_t jobs = NumElements({g.batch, g.groups});
    Scratch s;
    s.columns = carver.Take<float>(static_cast<size_t>(NumElements({jobs, g.pixels(), g.patch()})));
    s.result =
        carver.Take<float>(static_cast<size_t>(NumElements({jobs, g.pixels(), g.group_out()})));
    return s;
  }

  ConvGeometry Geometry(const std::vector<const Tensor*>& in) const {
    const Tensor& x = *in[0];
    const Tensor& w = *in[1];
    if (x.rank() != 4 || w.rank() != 4) {
      throw Error("qclip supports 2-D Conv only: X " + ShapeToString(x.shape()) + ", W " +
                  ShapeToString(w.shape()));
    }
    ConvGeometry g{};
    g.batch = x.dim(0);
    g.in_channels = x.dim(1);
    g.height = x.dim(2);
    g.width = x.dim(3);
    g.out_channels = w.dim(0);
    g.kernel_h = w.dim(2);
    g.kernel_w = w.dim(3);
    g.groups = groups_;
    if (g.in_channels % groups_ != 0 || g.out_channels % groups_ != 0 ||
        w.dim(1) != g.in_channels / groups_) {
      throw Error("Conv channels do not match: X " + ShapeToString(x.shape()) + ", W " +
                  ShapeToString(w.shape()) + ", group " + std::to_string(groups_));
    }
    if (!kernel_shape_.empty() &&
        (kernel_shape_[0] != g.kernel_h || kernel_shape_[1] != g.kernel_w)) {
      throw Error("Conv kernel_shape does not match W " + ShapeToString(w.shape()));
    }
    // Output size and leading pads per spatial axis (ONNX Conv: auto_pad, pads, dilations).
    const int64_t in_size[2] = {g.height, g.width}, kernel[2] = {g.kernel_h, g.kernel_w};
    int64_t out_size[2], pad_begin[2];
    for (int d = 0; d < 2; ++d) {
      const int64_t extent = dilations_[d] * (kernel[d] - 1) + 1;
      if (auto_pad_ == "SAME_UPPER" || auto_pad_ == "SAME_LOWER") {
        out_size[d] = (in_size[d] + strides_[d] - 1) / strides_[d];
        const int64_t total =
            std::max<int64_t>(0, (out_size[d] - 1) * strides_[d] + extent - in_size[d]);
        pad_begin[d] = auto_pad_ == "SAME_UPPER" ? total / 2 : total - total / 2;
      } else {
        const int64_t pad_total = auto_pad_ == "VALID" ? 0 : pads_[d] + pads_[d + 2];
        pad_begin[d] = auto_pad_ == "VALID" ? 0 : pads_[d];
        if (in_size[d] + pad_total < extent) {
          throw Error("Conv kernel " + ShapeToString(w.shape()) +
                      " is larger than the padded input " + ShapeToString(x.shape()));
        }
        out_size[d] = (in_size[d] + pad_total - extent) / strides_[d] + 1;
      }
    }
    g.out_h = out_size[0];
    g.out_w = out_size[1];
    g.pad_top = pad_begin[0];
    g.pad_left = pad_begin[1];
    return g;
  }

  // Row p of the im2col matrix: the receptive field of output pixel p, zero where it falls in
  // the padding.
  void Im2ColRow(const ConvGeometry& g, const float* x_group, int64_t p, float* row) const {
    const int64_t oy = p / g.out_w, ox = p % g.out_w;
    const int64_t y0 = oy * strides_[0] - g.pad_top, x0 = ox * strides_[1] - g.pad_left;
    for (int64_t c = 0; c < g.group_in(); ++c) {
      const float* plane = x_group + c * g.height * g.width;
      for (int64_t ky = 0; ky < g.kernel_h; ++ky) {
        const int64_t iy = y0 + ky * dilations_[0];
        float* out = row + (c * g.kernel_h + ky) * g.kernel_w;
        if (iy < 0 || iy >= g.height) {
          std::fill(out, out + g.kernel_w, 0.0f);
          continue;
        }
        const float* line = plane + iy * g.width;
        if (dilations_[1] == 1 && x0 >= 0 && x0 + g.kernel_w <= g.width) {
          std::memcpy(out, line + x0, static_cast<size_t>(g.kernel_w) * sizeof(float));
          continue;
        }
        for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
          const int64_t ix = x0 + kx * dilations_[1];
          out[kx] = ix >= 0 && ix < g.width ? line[ix] : 0.0f;
        }
      }
    }
  }

  // One packed Wᵀ per group: rows [group * M/groups, ...) of W as a [patch, M/groups] B.
  std::vector<PackedGemmB> PackWeights(const Tensor& w) const {
    const int64_t group_out = w.dim(0) / groups_;
    const int64_t patch = w.dim(1) * w.dim(2) * w.dim(3);
    std::vector<PackedGemmB> packed;
    for (int64_t group = 0; group < groups_; ++group) {
      const float* rows = w.data<float>() + group * group_out * patch;
      packed.emplace_back(GemmBView{rows, patch, patch, group_out, /*transposed=*/true});
    }
    return packed;
  }

  std::string auto_pad_;
  int64_t groups_;
  std::vector<int64_t> kernel_shape_, pads_, strides_, dilations_;
  std::vector<PackedGemmB> packed_;  // per group; empty unless W was constant at load
};

}  // namespace

void RegisterConvOps(OpRegistry& r) { r.Add({"", "Conv", 1, &MakeKernel<ConvKernel>}); }

}  // namespace qclip
