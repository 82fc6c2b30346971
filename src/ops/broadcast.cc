#include "ops/broadcast.h"

#include <cassert>
#include <cstring>

#include "util/thread_pool.h"

namespace qclip {

void StridedLoop::RowOffsets(int64_t row, int64_t* offsets) const {
  for (int k = 0; k < num_operands; ++k) offsets[k] = 0;
  for (size_t d = outer_dims.size(); d-- > 0;) {
    const int64_t i = row % outer_dims[d];
    row /= outer_dims[d];
    for (int k = 0; k < num_operands; ++k) offsets[k] += i * outer_strides[k][d];
  }
}

StridedLoop MakeStridedLoop(const Shape& shape, const std::vector<std::vector<int64_t>>& strides) {
  assert(strides.size() <= StridedLoop::kMaxOperands);
  StridedLoop loop;
  loop.num_operands = static_cast<int>(strides.size());
  // Merge dim d into the previous kept dim when every operand steps over the pair as one
  // contiguous dim; dims of size 1 are dropped (they move nothing).
  Shape dims;
  std::vector<int64_t> merged[StridedLoop::kMaxOperands];
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool contiguous = !dims.empty();
    for (int k = 0; k < loop.num_operands && contiguous; ++k) {
      contiguous = merged[k].back() == strides[k][d] * shape[d];
    }
    if (contiguous) {
      dims.back() *= shape[d];
      for (int k = 0; k < loop.num_operands; ++k) merged[k].back() = strides[k][d];
    } else {
      dims.push_back(shape[d]);
      for (int k = 0; k < loop.num_operands; ++k) merged[k].push_back(strides[k][d]);
    }
  }
  if (dims.empty()) return loop;  // a single element
  loop.inner = dims.back();
  dims.pop_back();
  for (int k = 0; k < loop.num_operands; ++k) {
    loop.inner_stride[k] = merged[k].back();
    merged[k].pop_back();
    loop.outer_strides[k] = std::move(merged[k]);
  }
  loop.rows = 1;
  for (int64_t d : dims) loop.rows *= d;
  loop.outer_dims = std::move(dims);
  return loop;
}

StridedLoop MakeBroadcastLoop(const Shape& out, const std::vector<const Shape*>& inputs) {
  std::vector<std::vector<int64_t>> strides;
  for (const Shape* s : inputs)
    strides.push_back(BroadcastStrides(*s, static_cast<int>(out.size())));
  return MakeStridedLoop(out, strides);
}

namespace {

// Tile edge of the blocked 2-D transpose: a 16 x 16 tile of floats reads 16 source lines.
constexpr int64_t kTile = 16;

// dst[r][c] = src[r + c * step] for r < rows, c < cols: rows of the output gather columns of
// the source. Tiles keep the source lines in cache while each is read `kTile` times.
template <typename T>
void TransposeRows(const T* src, int64_t step, T* dst, int64_t row_begin, int64_t row_end,
                   int64_t cols) {
  for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
    const int64_t c1 = std::min(cols, c0 + kTile);
    for (int64_t r = row_begin; r < row_end; ++r) {
      for (int64_t c = c0; c < c1; ++c) dst[r * cols + c] = src[r + c * step];
    }
  }
}

}  // namespace

void StridedCopy(const void* src, const StridedView& view, size_t elem_size, void* dst,
                 ThreadPool& pool) {
  const StridedLoop& loop = view.loop;
  // (A zero dim, merged into rows or inner: the transposed-rows path divides by it.)
  if (loop.rows == 0 || loop.inner == 0) return;
  const int64_t step = loop.inner_stride[0];
  VisitBits(elem_size, [&](auto zero) {
    using T = decltype(zero);
    const T* s = static_cast<const T*>(src) + view.offset;
    T* d = static_cast<T*>(dst);
    if (step != 1 && !loop.outer_dims.empty() && loop.outer_strides[0].back() == 1) {
      // A batch of 2-D transposes (e.g. [B,H,S,D] -> [B,H,D,S]): the output's second-innermost
      // dim is the source's contiguous one. Tasks are (batch, tile of rows) pairs.
      const int64_t rows = loop.outer_dims.back();
      const int64_t tiles = (rows + kTile - 1) / kTile;
      pool.ParallelFor(loop.rows / rows * tiles, [&](int64_t task, int) {
        const int64_t batch = task / tiles;
        const int64_t row_begin = task % tiles * kTile;
        int64_t offset;
        loop.RowOffsets(batch * rows, &offset);
        TransposeRows(s + offset, step, d + batch * rows * loop.inner, row_begin,
                      std::min(rows, row_begin + kTile), loop.inner);
      });
      return;
    }
    ForEachRun(loop, pool, [&](const int64_t* offsets, int64_t out_offset, int64_t n) {
      const T* from = s + offsets[0];
      T* to = d + out_offset;
      if (step == 1) {
        std::memcpy(to, from, static_cast<size_t>(n) * sizeof(T));
      } else {
        for (int64_t i = 0; i < n; ++i) to[i] = from[i * step];
      }
    });
  });
}

}  // namespace qclip
