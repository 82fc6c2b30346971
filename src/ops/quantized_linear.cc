// The int8 matrix product behind the quantized ops, and the fused qclip.QuantizedLinear.
#include "ops/quantized_linear.h"

#include <algorithm>
#include <cassert>
#include <memory>
#include <numeric>
#include <string>

#include "kernels/gemm_f32.h"
#include "kernels/gemm_s8.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "util/thread_pool.h"

namespace qclip {
namespace {

// Rows per GEMM task: a multiple of every target's tile height (6 with AVX-512, else 2 or 1).
// A task is at most kRowBlock rows x one panel of kPackedPanelCols columns; kAmxRowBlock rows
// when the product runs on AMX tiles, which multiply 3-4 times faster than VNNI, so that the
// weights' traffic from L3 bounds them: one task then covers all of an image's 197 rows (a
// panel read once per thread, not once per 96 rows), vision products in exact mode -8%.
constexpr size_t kRowBlock = 96;
constexpr size_t kAmxRowBlock = 256;

size_t CeilDiv(size_t a, size_t b) { return (a + b - 1) / b; }

// fn(begin, end) over [0, rows) of K-long rows, in chunks of about kParallelChunk values.
template <typename Fn>
void ParallelRowChunks(ThreadPool& pool, size_t rows, size_t K, const Fn& fn) {
  const int64_t rows_per_task = std::max<int64_t>(1, kParallelChunk / std::max<size_t>(K, 1));
  ParallelChunks(pool, static_cast<int64_t>(rows), rows_per_task, [&](int64_t begin, int64_t end) {
    fn(static_cast<size_t>(begin), static_cast<size_t>(end));
  });
}

// Rows cut into blocks for the pool: a multiple of its thread count of balanced blocks (at most
// max_rows rows, a multiple of 6 but the last), so that thread t's contiguous share of the
// tasks (ThreadPool) is the same rows in the activations' quantization and in the product —
// mostly rows it also wrote in the op before (elementwise ops' shares are about the same rows).
// Rows that fit one block stay one block (the product then splits by panels). The split changes no
// result.
struct RowBlocks {
  RowBlocks(size_t rows, const ThreadPool& pool, size_t max_rows = kRowBlock) : rows(rows) {
    const size_t threads = static_cast<size_t>(pool.size());
    count = CeilDiv(rows, max_rows);
    if (count > 1) count = CeilDiv(count, threads) * threads;
    size = count == 0 ? 0 : CeilDiv(CeilDiv(rows, count), 6) * 6;
    per_share = count > 1 ? count / threads : 1;
  }
  size_t Begin(size_t block) const { return std::min(rows, block * size); }
  size_t End(size_t block) const { return std::min(rows, (block + 1) * size); }
  size_t rows, count, size, per_share;
};

// Calls fn(row_begin, rows, panel) for every tile of a [rows, panels * kPackedPanelCols] output
// (one panel's columns), spread over the pool: each thread's share is its RowBlocks for every panel
// (all the panels of one block when there is one), panel by panel so that consecutive tasks reuse
// the panel's weights.
//
// One block's panels may not divide evenly among the threads (a query's 768-wide products are
// 12 panels: 16 threads take one each and 4 wait); the rows are then also cut, into
// threads / gcd(panels, threads) balanced parts of at least 6 rows, so that every thread gets
// as many tiles (16 threads, 64 rows: 4 parts of 16 rows, 48 tiles, 3 each). Each part reads
// the panel's weights again, which costs less than idle threads.
template <typename Fn>
void ForEachTile(size_t rows, size_t panels, size_t max_rows, ThreadPool& pool, const Fn& fn) {
  const size_t threads = static_cast<size_t>(pool.size());
  if (rows <= max_rows && panels % threads != 0) {
    const size_t parts = std::min(threads / std::gcd(panels, threads), rows / 6);
    if (parts > 1) {
      const size_t base = rows / parts, longer = rows % parts;  // longer parts first
      pool.ParallelFor(static_cast<int64_t>(parts * panels), [&](int64_t task, int) {
        const size_t part = static_cast<size_t>(task) % parts;
        const size_t begin = part * base + std::min(part, longer);
        fn(begin, base + (part < longer ? 1 : 0), static_cast<size_t>(task) / parts);
      });
      return;
    }
  }
  const RowBlocks blocks(rows, pool, max_rows);
  const size_t share_tasks = blocks.per_share * panels;
  pool.ParallelFor(static_cast<int64_t>(blocks.count * panels), [&](int64_t task, int) {
    const size_t i = static_cast<size_t>(task) % share_tasks;
    const size_t block =
        static_cast<size_t>(task) / share_tasks * blocks.per_share + i % blocks.per_share;
    const size_t begin = blocks.Begin(block), end = blocks.End(block);
    if (begin == end) return;  // rounding blocks up to 6 rows can leave the last ones empty
    fn(begin, end - begin, i / blocks.per_share);
  });
}

// Columns [begin, end) of a product: panel `panel` of its [rows, N] output.
struct PanelColumns {
  PanelColumns(size_t panel, size_t N)
      : begin(panel * kPackedPanelCols), end(std::min(begin + kPackedPanelCols, N)) {}
  size_t begin, end;
};

// The panels of `count` outputs side by side: output i's come after output i - 1's.
size_t TotalPanels(const LinearOutput* outputs, size_t count) {
  size_t panels = 0;
  for (size_t i = 0; i < count; ++i) {
    panels += CeilDiv(outputs[i].weights->N, kPackedPanelCols);
  }
  return panels;
}

// Which of `count` outputs panel `panel` (< TotalPanels) belongs to; `panel` becomes its panel
// in that output.
const LinearOutput& OutputOfPanel(const LinearOutput* outputs, size_t count, size_t& panel) {
  for (size_t i = 0;; ++i) {
    assert(i < count);
    const size_t panels = CeilDiv(outputs[i].weights->N, kPackedPanelCols);
    if (panel < panels) {
      return outputs[i];
    }
    panel -= panels;
  }
}

// sum_k a[m][k] per row into a.row_sums, needed when some weight zero point is not 0 (else
// zeros: the kernel multiplies them by the zero points).
void SumActivationRows(const QuantizedActivations& a, size_t K, bool zero_points,
                       ThreadPool& pool) {
  assert(a.row_sums != nullptr || a.rows == 0);
  if (!zero_points) {
    std::fill(a.row_sums, a.row_sums + a.rows, 0);
    return;
  }
  ParallelRowChunks(pool, a.rows, K, [&](size_t begin, size_t end) {
    RowSumsU8(a.data + begin * a.lda, a.lda, end - begin, K, a.row_sums + begin);
  });
}

// Most rows per task of a per-tensor product with `w`.
size_t TaskRows(const QuantizedWeights& w) {
  return ProductRunsOnAmx(w.K) ? kAmxRowBlock : kRowBlock;
}

// The kernel's zero-point and scale terms for rows [r, ...) of `a` (its row sums filled).
QuantizedGemmTerms GemmTerms(const QuantizedActivations& a, const QuantizedWeights& w, size_t r) {
  QuantizedGemmTerms t;
  t.a_zero_points = a.zero_points + r;
  t.a_sums = a.row_sums + r;
  t.b_zero_points = w.zero_points.data();
  t.b_sums = w.column_sums.data();
  return t;
}

}  // namespace

std::vector<int32_t> ReadZeroPoints(const Tensor* zero_point, size_t n, const char* what) {
  std::vector<int32_t> values(n);
  ReadZeroPoints(zero_point, n, what, values.data());
  return values;
}

void ReadZeroPoints(const Tensor* zero_point, size_t n, const char* what, int32_t* values) {
  if (zero_point == nullptr) {
    std::fill(values, values + n, 0);
    return;
  }
  RequireDType(*zero_point, {DType::kInt8, DType::kUInt8}, what);
  const size_t size = static_cast<size_t>(zero_point->size());
  if (size != 1 && size != n) {
    throw Error(std::string(what) + " has shape " + ShapeToString(zero_point->shape()) +
                ", expected a scalar or " + std::to_string(n) + " values");
  }
  for (size_t i = 0; i < n; ++i) {
    const size_t j = size == 1 ? 0 : i;
    values[i] = zero_point->dtype() == DType::kInt8 ? zero_point->data<int8_t>()[j]
                                                    : zero_point->data<uint8_t>()[j];
  }
}

QuantizedWeights QuantizedWeights::Pack(DType dtype, const void* data, size_t K, size_t N,
                                        size_t k_stride, size_t n_stride,
                                        const std::vector<int32_t>& zero_points, bool blockwise,
                                        WeightArena* arena, ThreadPool* pool) {
  QuantizedWeights w;
  w.K = K;
  w.N = N;
  // The kernels take int8: uint8 weights are packed as w - 128 (the top bit flipped as they are
  // read). Weights stored otherwise than row-major are copied row-major first (ConvInteger's).
  const bool is_unsigned = dtype == DType::kUInt8;
  const uint8_t flip = is_unsigned ? 0x80 : 0;
  const int8_t* b = static_cast<const int8_t*>(data);
  std::vector<int8_t> copy;
  if (k_stride != N || n_stride != 1) {
    copy.resize(K * N);
    for (size_t k = 0; k < K; ++k) {
      for (size_t n = 0; n < N; ++n) copy[k * N + n] = b[k * k_stride + n * n_stride];
    }
    b = copy.data();
  }
  w.packed =
      AllocateWeights(arena, DType::kInt8, {static_cast<int64_t>(PackedWeightsS8Size(K, N))});
  w.zero_points.resize(N);
  w.column_sums.assign(N, 0);
  for (size_t n = 0; n < N; ++n) w.zero_points[n] = zero_points[n] - (is_unsigned ? 128 : 0);
  if (blockwise) {
    w.block_terms =
        AllocateWeights(arena, DType::kInt32, {static_cast<int64_t>(PackedBlockTermsS8Size(K, N))});
  }
  // Panel by panel: each panel's packed bytes, block terms and column sums depend on its own
  // columns only, and a panel of the whole is the panel of its columns packed alone.
  const size_t panels = CeilDiv(N, kPackedPanelCols);
  const auto pack_panels = [&](size_t begin, size_t end) {
    for (size_t p = begin; p < end; ++p) {
      const size_t n0 = p * kPackedPanelCols, cols = std::min(kPackedPanelCols, N - n0);
      PackWeightsS8(b + n0, K, cols, N, 1, w.packed.data<int8_t>() + p * PackedWeightsS8Size(K, 1),
                    flip);
      for (size_t k = 0; k < K; ++k) {
        for (size_t n = n0; n < n0 + cols; ++n) {
          w.column_sums[n] += static_cast<int8_t>(b[k * N + n] ^ flip);
        }
      }
      if (blockwise) {
        PackBlockTermsS8(b + n0, K, cols, N, 1, w.zero_points.data() + n0,
                         w.block_terms.data<int32_t>() + p * PackedBlockTermsS8Size(K, 1), flip);
      }
    }
  };
  // About kParallelChunk weights per task, when a pool is given.
  const size_t panels_per_task =
      std::max<size_t>(1, kParallelChunk / std::max<size_t>(K * kPackedPanelCols, 1));
  if (pool != nullptr && panels > panels_per_task) {
    ParallelChunks(*pool, static_cast<int64_t>(panels), static_cast<int64_t>(panels_per_task),
                   [&](int64_t begin, int64_t end) {
                     pack_panels(static_cast<size_t>(begin), static_cast<size_t>(end));
                   });
  } else {
    pack_panels(0, panels);
  }
  return w;
}

void MatMulQuantized(const QuantizedActivations& a, const QuantizedWeights& w, ThreadPool& pool,
                     int32_t* y, size_t ldy) {
  SumActivationRows(a, w.K, w.HasZeroPoints(), pool);
  const size_t panels = CeilDiv(w.N, kPackedPanelCols);
  ForEachTile(a.rows, panels, TaskRows(w), pool, [&](size_t r, size_t rows, size_t panel) {
    const PanelColumns c(panel, w.N);
    MatMulU8S8(a.data + r * a.lda, a.lda, rows, w.K, w.packed.data<int8_t>(), w.N, c.begin, c.end,
               GemmTerms(a, w, r), y + r * ldy + c.begin, ldy);
  });
}

void MatMulQuantized(const QuantizedActivations& a, const float* a_scales,
                     const LinearOutput* outputs, size_t count, UnaryOp activation,
                     ThreadPool& pool) {
  if (count == 0) {
    return;
  }
  const size_t K = outputs[0].weights->K;
  bool zero_points = false;
  for (size_t i = 0; i < count; ++i) {
    zero_points |= outputs[i].weights->HasZeroPoints();
  }
  SumActivationRows(a, K, zero_points, pool);
  ForEachTile(a.rows, TotalPanels(outputs, count), TaskRows(*outputs[0].weights), pool,
              [&](size_t r, size_t rows, size_t panel) {
                const LinearOutput& out = OutputOfPanel(outputs, count, panel);
                const QuantizedWeights& w = *out.weights;
                const PanelColumns c(panel, w.N);
                QuantizedGemmTerms t = GemmTerms(a, w, r);
                t.a_scales = a_scales + r;
                t.b_scales = out.b_scales;
                t.bias = out.bias;
                t.activation = activation;
                MatMulU8S8(a.data + r * a.lda, a.lda, rows, K, w.packed.data<int8_t>(), w.N,
                           c.begin, c.end, t, out.y + r * out.ldy + c.begin, out.ldy);
              });
}

void DynamicQuantizeBlocks(const float* x, size_t rows, size_t K, ThreadPool& pool, uint8_t* q,
                           ActivationBlock* blocks, QuantParams* params, int32_t* sums) {
  const size_t num_blocks = ActivationBlocks(K);
  // Rows [begin, end): their values, then their blocks' kernel terms.
  const auto quantize = [&](size_t begin, size_t end) {
    DynamicQuantizeBlocksU8(x + begin * K, K, end - begin, K, kActivationBlock, q + begin * K, K,
                            params + begin, sums != nullptr ? sums + begin : nullptr, rows);
    for (size_t b = 0; b < num_blocks; ++b) {
      const auto len = static_cast<int32_t>(std::min(kActivationBlock, K - b * kActivationBlock));
      for (size_t i = b * rows + begin; i < b * rows + end; ++i) {
        const int32_t zero_point = params[i].zero_point;  // no sum: centred sum 0
        blocks[i] = MakeActivationBlock(params[i].scale, zero_point,
                                        sums != nullptr ? sums[i] : len * zero_point, len);
      }
    }
  };
  const RowBlocks row_blocks(rows, pool);
  if (row_blocks.count > 1) {  // the rows each thread multiplies next
    pool.ParallelFor(static_cast<int64_t>(row_blocks.count), [&](int64_t task, int) {
      quantize(row_blocks.Begin(static_cast<size_t>(task)),
               row_blocks.End(static_cast<size_t>(task)));
    });
  } else {  // one block, which the product splits by panels: any rows
    ParallelRowChunks(pool, rows, K, quantize);
  }
}

void MatMulQuantizedBlockwise(const BlockQuantizedActivations& a, const LinearOutput* outputs,
                              size_t count, UnaryOp activation, ThreadPool& pool) {
  if (count == 0) {
    return;
  }
  const size_t K = outputs[0].weights->K;
  const size_t max_rows = ProductRunsOnAmx(K, /*blockwise=*/true) ? kAmxRowBlock : kRowBlock;
  ForEachTile(a.rows, TotalPanels(outputs, count), max_rows, pool,
              [&](size_t r, size_t rows, size_t panel) {
                const LinearOutput& out = OutputOfPanel(outputs, count, panel);
                const QuantizedWeights& w = *out.weights;
                const PanelColumns c(panel, w.N);
                BlockwiseGemmTerms t;
                t.a_blocks = a.blocks + r;
                t.a_stride = a.rows;
                t.b_terms = w.block_terms.data<int32_t>();
                t.b_scales = out.b_scales;
                t.bias = out.bias;
                t.activation = activation;
                t.ones_after_a = r + rows == a.rows;  // the row of ones after the last, not a part
                MatMulBlockwiseU8S8(a.data + r * a.lda, a.lda, rows, K, w.packed.data<int8_t>(),
                                    w.N, c.begin, c.end, t, out.y + r * out.ldy + c.begin, out.ldy);
              });
}

size_t DynamicQuantizeRanges(size_t n) { return 2 * CeilDiv(n, kParallelChunk); }

QuantParams DynamicQuantize(const float* x, size_t n, ThreadPool& pool, uint8_t* q, float* ranges) {
  const size_t chunks = CeilDiv(n, kParallelChunk);
  float* mins = ranges;
  float* maxs = ranges + chunks;
  ParallelChunks(pool, static_cast<int64_t>(n), kParallelChunk, [&](int64_t begin, int64_t end) {
    const size_t chunk = static_cast<size_t>(begin / kParallelChunk);
    MinMaxF32(x + begin, static_cast<size_t>(end - begin), &mins[chunk], &maxs[chunk]);
  });
  // An empty x gives ORT's result for no data: the range [0, 0].
  const float min = chunks == 0 ? 0.0f : *std::min_element(mins, mins + chunks);
  const float max = chunks == 0 ? 0.0f : *std::max_element(maxs, maxs + chunks);
  const QuantParams params = DynamicQuantParamsU8(min, max);
  ParallelChunks(pool, static_cast<int64_t>(n), kParallelChunk, [&](int64_t begin, int64_t end) {
    QuantizeU8(x + begin, static_cast<size_t>(end - begin), params.scale, params.zero_point,
               q + begin);
  });
  return params;
}

namespace {

// True when node input i is given (it may still be a runtime value).
bool HasInput(const KernelInit& init, size_t i) {
  return i < init.node.inputs.size() && init.node.inputs[i] >= 0;
}

// One node may hold several products of the same X (MergeQuantizedLinears: an attention layer's
// Q, K and V): X is then quantized once for all of them.
class QuantizedLinearKernel final : public OpKernel {
 public:
  explicit QuantizedLinearKernel(const KernelInit& init)
      : mode_(init.int8_activations), activation_(ReadActivation(init.node)) {
    const std::vector<const Tensor*>& c = init.constants;
    const size_t outputs = init.node.outputs.size();
    if (outputs == 1 ? c.size() < 3 || c.size() > 5 : c.size() != 1 + 4 * outputs) {
      throw Error(
          "expected " + (outputs == 1 ? std::string("3..5") : std::to_string(1 + 4 * outputs)) +
          " inputs for " + std::to_string(outputs) + " output(s), got " + std::to_string(c.size()));
    }
    for (size_t i = 1; i < c.size(); ++i) {
      if (HasInput(init, i) && c[i] == nullptr) {
        throw Error("input " + std::to_string(i) +
                    " (weights, scale, zero point or bias) must be "
                    "constant at load");
      }
    }
    for (size_t p = 0; p < outputs; ++p) {
      const auto input = [&](size_t j) {
        return 1 + 4 * p + j < c.size() ? c[1 + 4 * p + j] : nullptr;
      };
      if (input(0) == nullptr || input(1) == nullptr) throw Error("W and w_scale are required");
      const Tensor& w = *input(0);
      RequireDType(w, {DType::kInt8, DType::kUInt8}, "W");
      if (w.rank() != 2) throw Error("W must be 2-D, got " + ShapeToString(w.shape()));
      if (p > 0 && static_cast<size_t>(w.dim(0)) != K_) {
        throw Error("the products of one node need the same K: W " + ShapeToString(w.shape()) +
                    " after K = " + std::to_string(K_));
      }
      K_ = static_cast<size_t>(w.dim(0));
      products_.push_back(MakeProduct(w, *input(1), input(2), input(3), init));
    }
    block_sums_ = std::any_of(products_.begin(), products_.end(),
                              [](const Product& p) { return p.weights.HasZeroPoints(); });
  }

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    if (products_.size() == 1) {
      RequireInputs(in, 3, 5);
    } else {
      RequireInputs(in, 1 + 4 * products_.size(), 1 + 4 * products_.size());
    }
    RequireDType(*in[0], {DType::kFloat32}, "X");
    const Shape& x = in[0]->shape();
    if (x.empty() || static_cast<size_t>(x.back()) != K_) {
      throw Error("X has shape " + ShapeToString(x) + ", expected [..., " + std::to_string(K_) +
                  "]");
    }
    for (size_t p = 0; p < products_.size(); ++p) {
      Shape y = x;
      y.back() = static_cast<int64_t>(products_[p].N);
      (*out)[p] = Tensor::Meta(DType::kFloat32, y);
    }
  }

  // W, its scale and zero point and the bias are copied at load (packed or dequantized).
  bool PackedInput(size_t i) const override { return i >= 1; }

  // RunContext::exact selects per-tensor quantization for kernels built for integer activations;
  // the interpreter builds every kernel with kPerTensor when SessionOptions::exact is set, so a
  // kFloat kernel never runs in exact mode.
  size_t ScratchBytes(const std::vector<const Tensor*>& in, int) const override {
    ScratchCarver carver(nullptr);
    Carve(carver, Rows(*in[0]));
    return carver.bytes();
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const Tensor& x = *in[0];
    const size_t rows = Rows(x);
    ScratchCarver carver(ctx.scratch);
    const Scratch s = Carve(carver, rows);
    if (mode_ == Int8Activations::kFloat) {
      for (size_t p = 0; p < products_.size(); ++p) {
        const Product& product = products_[p];
        GemmEpilogue epilogue;
        epilogue.bias = product.Bias();
        epilogue.activation = activation_;
        const int64_t n = static_cast<int64_t>(product.N);
        ParallelGemm(*ctx.pool, x.data<float>(), static_cast<int64_t>(K_), *product.float_weights,
                     n, out[p]->data<float>(), n, static_cast<int64_t>(rows), epilogue);
      }
    } else if (ctx.exact || mode_ == Int8Activations::kPerTensor) {
      // Per tensor, bit for bit what ORT's DynamicQuantizeLinear feeds MatMulInteger.
      const QuantParams q = DynamicQuantize(x.data<float>(), rows * K_, *ctx.pool, s.x_q, s.ranges);
      std::fill(s.zero_points, s.zero_points + rows, q.zero_point);
      std::fill(s.scales, s.scales + rows, q.scale);
      const QuantizedActivations a{s.x_q, rows, K_, s.zero_points, s.row_sums};
      MatMulQuantized(a, s.scales, Outputs(out, s), products_.size(), activation_, *ctx.pool);
    } else {
      // Per block of a row: one token's outliers coarsen only their own blocks.
      std::fill(s.x_q + rows * K_, s.x_q + (rows + 1) * K_, uint8_t{1});  // MatMulBlockwiseU8S8
      DynamicQuantizeBlocks(x.data<float>(), rows, K_, *ctx.pool, s.x_q, s.blocks, s.params,
                            block_sums_ ? s.sums : nullptr);
      const BlockQuantizedActivations a{s.x_q, rows, K_, s.blocks};
      MatMulQuantizedBlockwise(a, Outputs(out, s), products_.size(), activation_, *ctx.pool);
    }
  }

 private:
  // One product's weights, prepared for the mode at load.
  struct Product {
    size_t N = 0;
    QuantizedWeights weights;                          // unless kFloat
    std::shared_ptr<const PackedGemmB> float_weights;  // kFloat only
    std::vector<float> scales;                         // [N]
    std::vector<float> bias;                           // [N] or empty
    const float* Bias() const { return bias.empty() ? nullptr : bias.data(); }
  };
  Product MakeProduct(const Tensor& w, const Tensor& scale, const Tensor* zero_point,
                      const Tensor* bias, const KernelInit& init) const {
    Product p;
    p.N = static_cast<size_t>(w.dim(1));
    if (zero_point != nullptr && zero_point->dtype() != w.dtype()) {
      throw Error("w_zero_point must have W's dtype");
    }
    const std::vector<int32_t> zero_points = ReadZeroPoints(zero_point, p.N, "w_zero_point");
    p.scales = ReadPerColumn(scale, p.N, "w_scale");
    if (bias != nullptr) p.bias = ReadPerColumn(*bias, p.N, "bias");
    if (mode_ == Int8Activations::kFloat) {
      p.float_weights = DequantizeWeights(w, zero_points, p.scales);
    } else {
      p.weights =
          QuantizedWeights::Pack(w.dtype(), w.raw(), K_, p.N, p.N, 1, zero_points,
                                 mode_ == Int8Activations::kBlockwise, init.weights, init.pool);
    }
    return p;
  }

  // The quantized activations and their terms, in the step's scratch: what either integer
  // mode needs (a kernel built block-wise still runs per tensor under RunContext::exact).
  struct Scratch {
    uint8_t* x_q = nullptr;
    int32_t* zero_points = nullptr;  // per tensor: [rows]
    float* scales = nullptr;
    int32_t* row_sums = nullptr;
    float* ranges = nullptr;            // DynamicQuantizeRanges(rows * K)
    ActivationBlock* blocks = nullptr;  // block-wise: [blocks][rows]
    QuantParams* params = nullptr;
    int32_t* sums = nullptr;
    LinearOutput* outputs = nullptr;  // [products]
  };
  Scratch Carve(ScratchCarver& carver, size_t rows) const {
    Scratch s;
    if (mode_ == Int8Activations::kFloat) return s;
    const size_t blocks = rows * ActivationBlocks(K_);
    s.x_q = carver.Take<uint8_t>((rows + 1) * K_);  // and the block-wise product's row of ones
    s.zero_points = carver.Take<int32_t>(rows);
    s.scales = carver.Take<float>(rows);
    s.row_sums = carver.Take<int32_t>(rows);
    s.ranges = carver.Take<float>(DynamicQuantizeRanges(rows * K_));
    s.blocks = carver.Take<ActivationBlock>(blocks);
    s.params = carver.Take<QuantParams>(blocks);
    s.sums = carver.Take<int32_t>(blocks);
    s.outputs = carver.Take<LinearOutput>(products_.size());
    return s;
  }
  // Each product's weights and output, in the scratch's array.
  const LinearOutput* Outputs(const std::vector<Tensor*>& out, const Scratch& s) const {
    for (size_t p = 0; p < products_.size(); ++p) {
      const Product& product = products_[p];
      s.outputs[p] = {&product.weights, product.scales.data(), product.Bias(),
                      out[p]->data<float>(), product.N};
    }
    return s.outputs;
  }
  static size_t Rows(const Tensor& x) {
    size_t rows = 1;
    for (int d = 0; d + 1 < x.rank(); ++d) rows *= static_cast<size_t>(x.dim(d));
    return rows;
  }

  // A float32 constant that is a scalar (broadcast to n) or has n values.
  static std::vector<float> ReadPerColumn(const Tensor& t, size_t n, const char* what) {
    RequireDType(t, {DType::kFloat32}, what);
    const size_t size = static_cast<size_t>(t.size());
    if (size != 1 && size != n) {
      throw Error(std::string(what) + " has shape " + ShapeToString(t.shape()) +
                  ", expected a scalar or " + std::to_string(n) + " values");
    }
    std::vector<float> values(n);
    for (size_t i = 0; i < n; ++i) values[i] = t.data<float>()[size == 1 ? 0 : i];
    return values;
  }

  // (W - w_zero_point) * w_scale as float32, DequantizeLinear's formula, packed for the FP32 GEMM.
  std::shared_ptr<const PackedGemmB> DequantizeWeights(const Tensor& w,
                                                       const std::vector<int32_t>& zero_points,
                                                       const std::vector<float>& scales) const {
    const size_t N = scales.size();
    std::vector<float> dense(K_ * N);
    for (size_t k = 0; k < K_; ++k) {
      for (size_t n = 0; n < N; ++n) {
        const size_t i = k * N + n;
        const int32_t q = w.dtype() == DType::kInt8 ? w.data<int8_t>()[i] : w.data<uint8_t>()[i];
        dense[i] = static_cast<float>(q - zero_points[n]) * scales[n];
      }
    }
    GemmBView view;
    view.data = dense.data();
    view.ld = static_cast<int64_t>(N);
    view.k = static_cast<int64_t>(K_);
    view.n = static_cast<int64_t>(N);
    return std::make_shared<const PackedGemmB>(view);
  }

  Int8Activations mode_;
  // Whether the block-wise products need their blocks' sums of quantized values: some weight
  // zero point (of the weights as packed) is not 0.
  bool block_sums_ = true;
  UnaryOp activation_;
  size_t K_ = 0;
  std::vector<Product> products_;  // one per output
};

}  // namespace

void RegisterQuantizedLinear(OpRegistry& r) {
  r.Add({"qclip", "QuantizedLinear", 1, &MakeKernel<QuantizedLinearKernel>});
}

}  // namespace qclip
