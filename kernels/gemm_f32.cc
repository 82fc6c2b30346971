#include "kernels/gemm_f32.h"

#include "kernels/aligned_alloc.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gemm_f32.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/gemm_f32-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qclip {
namespace HWY_NAMESPACE {

void GemmPackedTileF32(const float* a, int64_t lda, const PackedGemmB& b, float* c, int64_t ldc,
                       int64_t m, const GemmEpilogue& epilogue, int64_t tile) {
  GemmPackedTile(a, lda, b, c, ldc, m, epilogue, tile);
}

void GemmViewTileF32(const float* a, int64_t lda, const GemmBView& b, float* c, int64_t ldc,
                     int64_t m, const GemmEpilogue& epilogue, int64_t tile) {
  GemmViewTile(a, lda, b, c, ldc, m, epilogue, tile);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace qclip
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <cassert>
#include <new>

namespace qclip {

HWY_EXPORT(GemmPackedTileF32);
HWY_EXPORT(GemmViewTileF32);

void PackGemmPanel(const GemmBView& b, int64_t k0, int64_t kc, int64_t col0, float* out) {
  const int64_t width = std::min(kGemmPanelWidth, b.n - col0);
  for (int64_t k = 0; k < kc; ++k) {
    float* row = out + k * kGemmPanelWidth;
    for (int64_t j = 0; j < width; ++j) {
      const int64_t kk = k0 + k, nn = col0 + j;
      row[j] = b.scale * (b.transposed ? b.data[nn * b.ld + kk] : b.data[kk * b.ld + nn]);
    }
    std::fill(row + width, row + kGemmPanelWidth, 0.0f);
  }
}

PackedGemmB::PackedGemmB(const GemmBView& b) : k_(b.k), n_(b.n) {
  const size_t bytes = static_cast<size_t>(PackedFloats(b.k, b.n)) * sizeof(float);
  owned_.reset(static_cast<float*>(AllocateAligned64(bytes)));
  if (owned_ == nullptr) throw std::bad_alloc();
  data_ = owned_.get();
  Pack(b);
}

PackedGemmB::PackedGemmB(const GemmBView& b, float* storage) : k_(b.k), n_(b.n), data_(storage) {
  assert(reinterpret_cast<uintptr_t>(storage) % 64 == 0 || PackedFloats(b.k, b.n) == 0);
  Pack(b);
}

void PackedGemmB::Pack(const GemmBView& b) {
  const int64_t panels = (b.n + kGemmPanelWidth - 1) / kGemmPanelWidth;
  for (int64_t p = 0; p < panels; ++p) {
    PackGemmPanel(b, 0, b.k, p * kGemmPanelWidth, data_ + p * b.k * kGemmPanelWidth);
  }
}

int64_t GemmTileCount(int64_t m, int64_t n) {
  return ((m + kGemmTileRows - 1) / kGemmTileRows) * ((n + kGemmTileCols - 1) / kGemmTileCols);
}

void GemmF32Tile(const float* a, int64_t lda, const PackedGemmB& b, float* c, int64_t ldc,
                 int64_t m, const GemmEpilogue& epilogue, int64_t tile) {
  assert(tile >= 0 && tile < GemmTileCount(m, b.n()));
  HWY_DYNAMIC_DISPATCH(GemmPackedTileF32)(a, lda, b, c, ldc, m, epilogue, tile);
}

void GemmF32(const float* a, int64_t lda, const PackedGemmB& b, float* c, int64_t ldc, int64_t m,
             const GemmEpilogue& epilogue) {
  const int64_t tiles = GemmTileCount(m, b.n());
  for (int64_t t = 0; t < tiles; ++t) GemmF32Tile(a, lda, b, c, ldc, m, epilogue, t);
}

void GemmF32Tile(const float* a, int64_t lda, const GemmBView& b, float* c, int64_t ldc, int64_t m,
                 const GemmEpilogue& epilogue, int64_t tile) {
  assert(tile >= 0 && tile < GemmTileCount(m, b.n));
  HWY_DYNAMIC_DISPATCH(GemmViewTileF32)(a, lda, b, c, ldc, m, epilogue, tile);
}

void GemmF32(const float* a, int64_t lda, const GemmBView& b, float* c, int64_t ldc, int64_t m,
             const GemmEpilogue& epilogue) {
  const int64_t tiles = GemmTileCount(m, b.n);
  for (int64_t t = 0; t < tiles; ++t) GemmF32Tile(a, lda, b, c, ldc, m, epilogue, t);
}

}  // namespace qclip
#endif  // HWY_ONCE
