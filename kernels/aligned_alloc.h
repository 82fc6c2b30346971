// Memory for weights and activations: cache-line aligned, and from 2 MiB up either on
// transparent huge pages or page aligned.
//
// Huge pages cut the page faults of fresh memory (1 GB of 4 KiB pages is ~250k faults) and the
// TLB misses of the kernels that stream through it. But a huge-page fault must find 2 MiB of
// free memory in one piece, and in a VM, right after another process freed memory, that piece
// is often one the host has taken back: zeroing it then waits on the host page by page. Touching
// 345 MB there took 44 ms on huge pages when they were at hand and 400-800 ms right after ONNX
// Runtime had run, against 120-140 ms on 4 KiB pages every time. So the weights, packed once
// at load, take 4 KiB pages (a ViT-B/16 FP32 load: 540-750 -> 140-155 ms after another model
// ran; runs 2-4% slower), and the activations, allocated once and reused by every run, take
// huge pages. Once packed, the weights are advised for huge pages (AdviseHugePages): the
// kernel's khugepaged then moves them in the background (100 MB in about a minute here), so
// a long-running process gets the faster runs without the slow load.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>

namespace qclip {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;
inline constexpr size_t kSmallPageBytes = 4096;

// Like std::aligned_alloc(64, bytes) (free with std::free), null when out of memory. From 2 MiB
// up: with `huge_pages` 2 MiB aligned with MADV_HUGEPAGE, else 4 KiB aligned.
inline void* AllocateAligned64(size_t bytes, bool huge_pages = true) {
  const size_t alignment = bytes < kHugePageBytes ? 64
                           : huge_pages           ? kHugePageBytes
                                                  : kSmallPageBytes;
  const size_t rounded = bytes == 0 ? 64 : (bytes + alignment - 1) / alignment * alignment;
  void* p = std::aligned_alloc(alignment, rounded);
#if defined(MADV_HUGEPAGE)
  if (p != nullptr && alignment == kHugePageBytes) madvise(p, rounded, MADV_HUGEPAGE);
#endif
  return p;
}

// Asks the kernel to move [p, p + bytes), already written, to huge pages in the background
// (khugepaged, where transparent huge pages are enabled for madvise regions); changes no data.
inline void AdviseHugePages(void* p, size_t bytes) {
#if defined(MADV_HUGEPAGE)
  if (p != nullptr && bytes >= kHugePageBytes) madvise(p, bytes, MADV_HUGEPAGE);
#endif
}

}  // namespace qclip
