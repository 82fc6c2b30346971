// WeightArena: slices are aligned, disjoint and outlive the arena; requests larger than a chunk
// and empty ones work.
#include "util/weight_arena.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace qclip {
namespace {

TEST(WeightArena, SlicesAreAlignedDisjointAndOutliveTheArena) {
  std::vector<Tensor> slices;
  {
    WeightArena arena;
    for (int64_t n : {int64_t{1}, int64_t{0}, int64_t{5000}, int64_t{40} << 20, int64_t{3},
                      int64_t{20} << 20}) {
      slices.push_back(arena.Allocate(DType::kInt8, {n}));
      ASSERT_NE(slices.back().raw(), nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(slices.back().raw()) % 4096, 0u);
      std::memset(slices.back().raw(), static_cast<int>(slices.size()), static_cast<size_t>(n));
    }
  }  // the arena is gone; the slices keep their chunks
  for (size_t i = 0; i < slices.size(); ++i) {
    const auto* p = static_cast<const unsigned char*>(slices[i].raw());
    for (int64_t j = 0; j < slices[i].size(); j += 4093) ASSERT_EQ(p[j], i + 1) << i;
    for (size_t k = 0; k < i; ++k) {  // no overlap
      const auto* a = static_cast<const unsigned char*>(slices[k].raw());
      EXPECT_TRUE(p >= a + slices[k].size() || a >= p + slices[i].size()) << i << " " << k;
    }
  }
}

}  // namespace
}  // namespace qclip
