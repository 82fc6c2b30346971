#include "util/weight_arena.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <string>

#include "kernels/aligned_alloc.h"
#include "qclip/error.h"

namespace qclip {
namespace {

// Chunk size: big enough that the space left at the end of a chunk (when the next matrix does
// not fit) is small next to it. Untouched pages of the last chunk are never resident.
constexpr size_t kChunkBytes = size_t{32} << 20;
constexpr size_t kAlign = 4096;  // see weight_arena.h

}  // namespace

Tensor WeightArena::Allocate(DType dtype, Shape shape) {
  Tensor meta = Tensor::Meta(dtype, shape);  // validates the shape and computes the size
  const size_t bytes = std::max(kAlign, (meta.bytes() + kAlign - 1) / kAlign * kAlign);
  std::lock_guard<std::mutex> lock(mu_);
  if (bytes > left_) {
    const size_t size = std::max(kChunkBytes, bytes);
    void* p = AllocateAligned64(size, /*huge_pages=*/false);
    if (p == nullptr) {
      throw Error("out of memory allocating " + std::to_string(size) + " bytes for weights");
    }
    chunk_ = std::shared_ptr<void>(p, std::free);
    chunks_.emplace_back(chunk_, size);
    next_ = static_cast<unsigned char*>(p);
    left_ = size;
  }
  unsigned char* data = next_;
  next_ += bytes;
  left_ -= bytes;
  return Tensor::View(dtype, std::move(shape), data, chunk_);
}

void WeightArena::AdviseHugePages() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [chunk, bytes] : chunks_) {
    // A chunk whose tensors are all gone is freed: nothing to advise.
    if (const std::shared_ptr<void> alive = chunk.lock())
      qclip::AdviseHugePages(alive.get(), bytes);
  }
}

}  // namespace qclip
