// N-d loops over strided and broadcast views, shared by the elementwise and data-movement ops.
//
// A StridedLoop walks a dense output of some shape while up to kMaxOperands operands follow
// their own element strides (0 for a broadcast dim, negative for a reversed slice). Adjacent
// dims that every operand walks contiguously are merged, so a same-shape Add is one run, a bias
// add is rows of one run each, and only the innermost run is a tight loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ops/op.h"
#include "ops/op_util.h"
#include "qclip/tensor.h"

namespace qclip {

class ThreadPool;

struct StridedLoop {
  static constexpr int kMaxOperands = 3;
  int num_operands = 0;
  int64_t rows = 1;                                  // number of runs: the product of outer_dims
  int64_t inner = 1;                                 // elements per run
  Shape outer_dims;                                  // merged dims above the run, outermost first
  std::vector<int64_t> outer_strides[kMaxOperands];  // per operand, strides of outer_dims
  int64_t inner_stride[kMaxOperands] = {};           // per operand, stride along the run

  // Element offset of each operand at the start of run `row`.
  void RowOffsets(int64_t row, int64_t* offsets) const;
};

// A loop over `shape` where operand k moves by strides[k][d] elements along dim d.
StridedLoop MakeStridedLoop(const Shape& shape, const std::vector<std::vector<int64_t>>& strides);

// A loop over the output `out` of multidirectional broadcasting of `inputs` (row-major dense
// tensors): along each run an input's stride is 1, or 0 where it is broadcast.
StridedLoop MakeBroadcastLoop(const Shape& out, const std::vector<const Shape*>& inputs);

// Calls fn(offsets, out_offset, n) for every run piece: `offsets` are the operands' element
// offsets at the piece's start, `out_offset` the dense output offset, `n` its length. Pieces are
// spread over the pool in tasks of about kParallelChunk elements (long runs are cut), a split
// that depends only on the shapes.
template <typename Fn>
void ForEachRun(const StridedLoop& loop, ThreadPool& pool, const Fn& fn) {
  if (loop.rows == 0 || loop.inner == 0) return;
  const int64_t pieces_per_row = (loop.inner + kParallelChunk - 1) / kParallelChunk;
  const int64_t rows_per_task = std::max<int64_t>(1, kParallelChunk / loop.inner);
  const int64_t row_tasks = (loop.rows + rows_per_task - 1) / rows_per_task;
  pool.ParallelFor(row_tasks * pieces_per_row, [&](int64_t task, int) {
    const int64_t row_begin = task / pieces_per_row * rows_per_task;
    const int64_t row_end = std::min(loop.rows, row_begin + rows_per_task);
    const int64_t col_begin = task % pieces_per_row * kParallelChunk;
    const int64_t n = std::min(loop.inner - col_begin, kParallelChunk);
    for (int64_t row = row_begin; row < row_end; ++row) {
      int64_t offsets[StridedLoop::kMaxOperands];
      loop.RowOffsets(row, offsets);
      for (int k = 0; k < loop.num_operands; ++k) offsets[k] += col_begin * loop.inner_stride[k];
      fn(offsets, row * loop.inner + col_begin, n);
    }
  });
}

// A strided view of a source, in elements, to be copied densely: element [i_0, ..., i_n] of
// `shape` is src[offset + sum_d i_d * strides[d]]. Strides may be 0 (Expand) or negative (Slice
// with negative steps). Made once per plan (OpKernel::Prepare) by the data-movement ops.
struct StridedView final : OpState {
  int64_t offset = 0;
  StridedLoop loop;  // MakeStridedLoop(shape, {strides})
  StridedView(const Shape& shape, const std::vector<int64_t>& strides, int64_t offset = 0)
      : offset(offset), loop(MakeStridedLoop(shape, {strides})) {}
};

// Copies `view` of `src` (whose elements are elem_size bytes) into the dense `dst`.
void StridedCopy(const void* src, const StridedView& view, size_t elem_size, void* dst,
                 ThreadPool& pool);

}  // namespace qclip
