// Memory for weights and activations: cache-line aligned, and backed by transparent huge pages
// from 2 MiB up. Touching 1 GB of fresh 4 KiB pages costs ~250k page faults (seconds in a VM)
// and the GEMMs then pay TLB misses on every panel; with 2 MiB pages both nearly vanish.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>

namespace qclip {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// Like std::aligned_alloc(64, bytes) (free with std::free), null when out of memory; 2 MiB
// aligned with MADV_HUGEPAGE when bytes >= 2 MiB.
inline void* AllocateAligned64(size_t bytes) {
  const size_t alignment = bytes >= kHugePageBytes ? kHugePageBytes : 64;
  const size_t rounded = bytes == 0 ? 64 : (bytes + alignment - 1) / alignment * alignment;
  void* p = std::aligned_alloc(alignment, rounded);
#if defined(MADV_HUGEPAGE)
  if (p != nullptr && alignment == kHugePageBytes) madvise(p, rounded, MADV_HUGEPAGE);
#endif
  return p;
}

}  // namespace qclip
