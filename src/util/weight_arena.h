// Memory for the weights kernels pack at load. Packed matrices are carved one after another out
// of 32 MiB chunks, on 4 KiB pages (kernels/aligned_alloc.h says why not huge pages), so that
// no matrix pays for rounding its own allocation up (when the chunks were on 2 MiB pages, a
// 2.3 MiB matrix of its own took 4 MiB: 39 MB over the vision tower). Slices start on 4 KiB
// boundaries: packed back to back on 64-byte boundaries, the text tower ran 20% slower.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "qclip/tensor.h"

namespace qclip {

class WeightArena {
 public:
  // A tensor of uninitialised memory, 64-byte aligned, kept alive by its chunk.
  Tensor Allocate(DType dtype, Shape shape);
  // Once every weight is written: AdviseHugePages (kernels/aligned_alloc.h) for every chunk.
  void AdviseHugePages();

 private:
  std::mutex mu_;
  std::shared_ptr<void> chunk_;  // the chunk being filled
  // All of them with their sizes, alive as long as some tensor carved from them is.
  std::vector<std::pair<std::weak_ptr<void>, size_t>> chunks_;
  unsigned char* next_ = nullptr;
  size_t left_ = 0;
};

// `arena` when given, else a tensor of its own.
inline Tensor AllocateWeights(WeightArena* arena, DType dtype, Shape shape) {
  return arena != nullptr ? arena->Allocate(dtype, std::move(shape))
                          : Tensor(dtype, std::move(shape));
}

}  // namespace qclip
