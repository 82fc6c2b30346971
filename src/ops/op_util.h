// Small helpers shared by the op families: axis normalisation, broadcasting, reading constant
// int tensors, dtype checks, float16 conversion, fixed-chunk parallel loops. Each throws
// qclip::Error with a plain message; the graph layer adds the node context.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/activation.h"
#include "kernels/gemm_f32.h"
#include "ops/op.h"
#include "qclip/error.h"
#include "qclip/tensor.h"
#include "util/thread_pool.h"

namespace qclip {

// The KernelFactory of a kernel class constructed from KernelInit.
template <typename Kernel>
std::unique_ptr<OpKernel> MakeKernel(const KernelInit& init) {
  return std::make_unique<Kernel>(init);
}

// Copies src's bytes into dst (same size); nothing when they share a buffer.
void CopyData(const Tensor& src, Tensor& dst);

// Maps axis in [-rank, rank) to [0, rank); throws otherwise.
int NormalizeAxis(int64_t axis, int rank);

// Numpy/ONNX multidirectional broadcasting of two shapes; throws if incompatible.
Shape BroadcastShapes(const Shape& a, const Shape& b);

// Row-major strides of `shape` as the broadcast operand of an output of rank `out_rank`:
// dims of size 1 (and missing leading dims) get stride 0.
std::vector<int64_t> BroadcastStrides(const Shape& shape, int out_rank);

// The product of dims [begin, end) of a shape (whose NumElements is known to fit int64).
int64_t DimProduct(const Shape& shape, size_t begin, size_t end);

// Row-major element strides of a dense tensor of `shape`.
std::vector<int64_t> DenseStrides(const Shape& shape);

// The values of a constant int32/int64 tensor as int64 (for shape, axes, starts... inputs).
// Throws if `t` is null, has no data (is not constant) or has another dtype; `what` names the
// input in the message ("Reshape's shape input").
std::vector<int64_t> ReadInts(const Tensor* t, const char* what);

// Normalises each axis against `rank` (see NormalizeAxis); throws on repeats.
std::vector<int> NormalizeAxes(const std::vector<int64_t>& axes, int rank);

// Throws unless t's dtype is one of `allowed`; `what` names the tensor.
void RequireDType(const Tensor& t, std::initializer_list<DType> allowed, const char* what);

// Throws unless in.size() is within [min_inputs, max_inputs] and required inputs are present.
void RequireInputs(const std::vector<const Tensor*>& in, size_t min_inputs, size_t max_inputs);

// The `activation` attribute of qclip.Linear and qclip.QuantizedLinear (what
// FuseLinearActivation absorbed into the node): none, "gelu" or "gelu_tanh".
UnaryOp ReadActivation(const Node& node);

// IEEE 754 binary16 <-> binary32, subnormals, infinities and NaNs included. Widening is exact;
// narrowing rounds to nearest even (NaN payloads are truncated, the quiet bit set).
float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);

// Storage type of float16 elements; arithmetic converts to float (see ComputeType).
struct Half {
  uint16_t bits;
};

// The type arithmetic on storage type T runs in, and the conversions to and from it: float16
// computes in float32 and rounds once per op (exact for + - * / since float32 carries more
// than twice binary16's precision).
template <typename T>
struct ComputeType {
  using type = T;
};
template <>
struct ComputeType<Half> {
  using type = float;
};
template <typename T>
typename ComputeType<T>::type Widen(T v) {
  if constexpr (std::is_same_v<T, Half>) {
    return HalfToFloat(v.bits);
  } else {
    return v;
  }
}
template <typename T>
T Narrow(typename ComputeType<T>::type v) {
  if constexpr (std::is_same_v<T, Half>) {
    return Half{FloatToHalf(v)};
  } else {
    return v;
  }
}

// fn(a, b) for + - *, computed modulo 2^n for integers: signed overflow is undefined in C++,
// ONNX leaves it unspecified and every runtime wraps.
template <typename T, typename Fn>
T Wrapping(T a, T b, Fn fn) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(fn(static_cast<U>(a), static_cast<U>(b)));
  } else {
    return fn(a, b);
  }
}

// Calls fn(T{}) with T the storage type of a numeric dtype: float, Half, int32_t or int64_t.
// The caller has checked the dtype (RequireDType) in Infer; other dtypes do nothing.
template <typename Fn>
void VisitNumeric(DType dtype, const Fn& fn) {
  switch (dtype) {
    case DType::kFloat32:
      return fn(float{});
    case DType::kFloat16:
      return fn(Half{});
    case DType::kInt32:
      return fn(int32_t{});
    case DType::kInt64:
      return fn(int64_t{});
    default:
      return;
  }
}

// Calls fn(T{}) with T the unsigned integer of `bytes` bytes (1, 2, 4 or 8, every DType's
// size): for ops that only move elements, whatever their dtype.
template <typename Fn>
void VisitBits(size_t bytes, const Fn& fn) {
  switch (bytes) {
    case 1:
      return fn(uint8_t{});
    case 2:
      return fn(uint16_t{});
    case 4:
      return fn(uint32_t{});
    case 8:
      return fn(uint64_t{});
    default:
      return;
  }
}

// Work items per task for ParallelChunks: big enough to amortise a dispatch, small enough to
// spread a BERT-size activation (256 x 768) over a few threads.
constexpr int64_t kParallelChunk = 64 * 1024;

// Runs fn(begin, end) over [0, n) in fixed chunks of `chunk` items spread over the pool. The
// split does not depend on the thread count, so neither do the results.
template <typename Fn>
void ParallelChunks(ThreadPool& pool, int64_t n, int64_t chunk, const Fn& fn) {
  chunk = std::max<int64_t>(chunk, 1);
  pool.ParallelFor((n + chunk - 1) / chunk,
                   [&](int64_t task, int) { fn(task * chunk, std::min(n, (task + 1) * chunk)); });
}

// C[m, n] = epilogue(A[m, k] · B) over all GEMM tiles (cut for the pool's threads), spread over
// the pool. B is a PackedGemmB or a GemmBView.
template <typename B>
void ParallelGemm(ThreadPool& pool, const float* a, int64_t lda, const B& b, int64_t n, float* c,
                  int64_t ldc, int64_t m, const GemmEpilogue& epilogue) {
  const GemmTiles tiles(m, n, pool.size());
  pool.ParallelFor(tiles.count(), [&](int64_t tile, int) {
    GemmF32Tile(a, lda, b, c, ldc, tiles, epilogue, tile);
  });
}

}  // namespace qclip
