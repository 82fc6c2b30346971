#include "kernels/gemm_f32.h"

#include <cstring>

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
                       const GemmTileBounds& t, const GemmEpilogue& epilogue) {
  GemmPackedTile(a, lda, b, c, ldc, t, epilogue);
}

void GemmViewTileF32(const float* a, int64_t lda, const GemmBView& b, float* c, int64_t ldc,
                     const GemmTileBounds& t, const GemmEpilogue& epilogue) {
  GemmViewTile(a, lda, b, c, ldc, t, epilogue);
}

void PackGemmPanelF32(const GemmBView& b, int64_t k0, int64_t kc, int64_t col0, float* out) {
  PackPanel(b, k0, kc, col0, out);
}

// Panels [first, end) of B into PackedGemmB's layout at `out` (panel 0's address).
void PackGemmPanelsF32(const GemmBView& b, int64_t first, int64_t end, float* out) {
  for (int64_t p = first; p < end; ++p) {
    PackPanel(b, 0, b.k, p * kGemmPanelWidth, out + p * kGemmPanelWidth * b.k);
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace qclip
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>

namespace qclip {

HWY_EXPORT(GemmPackedTileF32);
HWY_EXPORT(GemmViewTileF32);
HWY_EXPORT(PackGemmPanelF32);
HWY_EXPORT(PackGemmPanelsF32);

void PackGemmPanel(const GemmBView& b, int64_t k0, int64_t kc, int64_t col0, float* out) {
  HWY_DYNAMIC_DISPATCH(PackGemmPanelF32)(b, k0, kc, col0, out);
}

PackedGemmB::PackedGemmB(int64_t k, int64_t n) : k_(k), n_(n) {
  const size_t bytes = static_cast<size_t>(PackedFloats(k, n)) * sizeof(float);
  owned_.reset(static_cast<float*>(AllocateAligned64(bytes, /*huge_pages=*/false)));  // weights
  if (owned_ == nullptr) throw std::bad_alloc();
  data_ = owned_.get();
}

PackedGemmB::PackedGemmB(const GemmBView& b) : PackedGemmB(b.k, b.n) {
  PackPanels(b, 0, panels());
  AdviseHugePages();
}

PackedGemmB::PackedGemmB(const GemmBView& b, float* storage) : k_(b.k), n_(b.n), data_(storage) {
  assert(reinterpret_cast<uintptr_t>(storage) % 64 == 0 || PackedFloats(b.k, b.n) == 0);
  PackPanels(b, 0, panels());
}

void PackedGemmB::AdviseHugePages() const {
  if (owned_ != nullptr) {
    qclip::AdviseHugePages(owned_.get(), static_cast<size_t>(PackedFloats(k_, n_)) * sizeof(float));
  }
}

void PackedGemmB::PackPanels(const GemmBView& b, int64_t first, int64_t end) {
  assert(b.k == k_ && b.n == n_ && 0 <= first && first <= end && end <= panels());
  HWY_DYNAMIC_DISPATCH(PackGemmPanelsF32)(b, first, end, data_);
}

namespace {

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

GemmTileBounds Bounds(const GemmTiles& tiles, int64_t tile) {
  assert(tile >= 0 && tile < tiles.count());
  const int64_t row0 = tile / tiles.col_tiles * tiles.rows_per_tile;
  const int64_t col0 = tile % tiles.col_tiles * tiles.cols_per_tile;
  return {static_cast<size_t>(row0),
          static_cast<size_t>(std::min(tiles.m, row0 + tiles.rows_per_tile)),
          static_cast<size_t>(col0),
          static_cast<size_t>(std::min(tiles.n, col0 + tiles.cols_per_tile))};
}

}  // namespace

GemmTiles::GemmTiles(int64_t m, int64_t n, int threads) : m(m), n(n) {
  assert(m >= 0 && n >= 0);
  // Balanced row blocks rounded up to the microkernel's 6 rows; recounted after the rounding so
  // that no block is empty.
  const auto cut_rows = [&](int64_t max_rows) {
    const int64_t blocks = CeilDiv(m, max_rows);
    rows_per_tile = blocks == 0 ? max_rows : CeilDiv(CeilDiv(m, blocks), 6) * 6;
    row_tiles = CeilDiv(m, rows_per_tile);
  };
  const auto too_few = [&] { return threads > 1 && count() < kGemmTilesPerThread * threads; };
  cut_rows(kGemmTileRows);
  cols_per_tile = kGemmTileCols;
  col_tiles = CeilDiv(n, cols_per_tile);
  while (too_few() && cols_per_tile > kGemmPanelWidth) {
    cols_per_tile /= 2;
    col_tiles = CeilDiv(n, cols_per_tile);
  }
  if (too_few() && rows_per_tile > kGemmTileRowsMin) cut_rows(kGemmTileRowsMin);
}

void GemmF32Tile(const float* a, int64_t lda, const PackedGemmB& b, float* c, int64_t ldc,
                 const GemmTiles& tiles, const GemmEpilogue& epilogue, int64_t tile) {
  assert(tiles.n == b.n());
  HWY_DYNAMIC_DISPATCH(GemmPackedTileF32)(a, lda, b, c, ldc, Bounds(tiles, tile), epilogue);
}

void GemmF32(const float* a, int64_t lda, const PackedGemmB& b, float* c, int64_t ldc, int64_t m,
             const GemmEpilogue& epilogue) {
  const GemmTiles tiles(m, b.n());
  for (int64_t t = 0; t < tiles.count(); ++t) GemmF32Tile(a, lda, b, c, ldc, tiles, epilogue, t);
}

void GemmF32Tile(const float* a, int64_t lda, const GemmBView& b, float* c, int64_t ldc,
                 const GemmTiles& tiles, const GemmEpilogue& epilogue, int64_t tile) {
  assert(tiles.n == b.n);
  HWY_DYNAMIC_DISPATCH(GemmViewTileF32)(a, lda, b, c, ldc, Bounds(tiles, tile), epilogue);
}

void GemmF32(const float* a, int64_t lda, const GemmBView& b, float* c, int64_t ldc, int64_t m,
             const GemmEpilogue& epilogue) {
  const GemmTiles tiles(m, b.n);
  for (int64_t t = 0; t < tiles.count(); ++t) GemmF32Tile(a, lda, b, c, ldc, tiles, epilogue, t);
}

}  // namespace qclip
#endif  // HWY_ONCE
