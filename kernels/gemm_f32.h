// FP32 matrix multiplication: C[m, n] = act(A[m, k] · B[k, n] + bias[n] + R[m, n]), the bias
// row and the addend R (a residual, ONNX Gemm's C, or C itself for C +=) optional.
//
// A and C are row-major with leading dimensions (row strides) lda and ldc, so callers can pass a
// sub-block. B is either packed once (PackedGemmB: weights, known at load) into column panels
// for the register-blocked microkernel, or given as a plain row-major matrix (GemmBView:
// activations, e.g. attention's Q·Kᵀ and P·V) that the kernel packs panel by panel as it goes.
// SIMD code is in gemm_f32-inl.h.
//
// Work is cut into tiles (GemmTiles) of at most kGemmTileRows x kGemmTileCols outputs; every
// output sums over k in the same order whatever tile holds it, so results are bit-identical
// however the output is cut and whichever threads run which tiles.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "kernels/activation.h"

namespace qclip {

// Columns per packed panel of B: one AVX-512 microkernel's width, several passes on narrower
// vectors. The packed layout is the same for every SIMD target.
constexpr int64_t kGemmPanelWidth = 64;

// Largest output tile for parallel callers (multiples of the microkernel's 6 rows and of a
// panel), the rows a tile is cut down to when columns alone leave threads without tiles, and the
// tiles per thread GemmTiles aims for when it narrows them. A tile's k blocks of B stay in L2
// while all its rows pass, so a tile as tall as an image's 197 tokens reads each weight from L3
// once: ViT-B/16 FP32 -14% against tiles of 96 rows on an Intel Xeon (2 threads). 258 = 43 x 6
// rows: a 256-token text in one tile.
constexpr int64_t kGemmTileRows = 258;
constexpr int64_t kGemmTileRowsMin = 96;
constexpr int64_t kGemmTileCols = 4 * kGemmPanelWidth;
constexpr int64_t kGemmTilesPerThread = 4;

// What is added to the product, the factor each row of the sum is multiplied by, and the
// activation applied to the result: C[r, :] = act(row_scale[r] * (A · B + bias + R)[r, :]).
struct GemmEpilogue {
  const float* bias = nullptr;       // [n] added to every row, or null
  const float* addend = nullptr;     // R[0, 0] of an [m, n] matrix with row stride ld_addend, or
  int64_t ld_addend = 0;             // null; may be C itself (same stride): C += A · B
  const float* row_scale = nullptr;  // [m], indexed by the output's row, or null
  UnaryOp activation = UnaryOp::kIdentity;
};

// B = scale * M with M a plain row-major [k, n] matrix at `data` with row stride `ld`, or M the
// transpose of such an [n, k] matrix when `transposed` (element (kk, nn) at data[nn * ld + kk]).
// The scale is where ONNX Gemm's alpha goes. PackGemmPanel reads `data` at any alignment (a
// weight viewed where it lies in a model file); the unpacked GEMM needs it aligned for float.
struct GemmBView {
  const float* data = nullptr;
  int64_t ld = 0;
  int64_t k = 0;
  int64_t n = 0;
  bool transposed = false;
  float scale = 1.0f;
};

// B packed for the microkernel: ceil(n / kGemmPanelWidth) panels, each k rows of kGemmPanelWidth
// consecutive floats (columns past n are zero).
class PackedGemmB {
 public:
  PackedGemmB() = default;
  // Packed into memory of its own (advised for huge pages once written: AdviseHugePages).
  explicit PackedGemmB(const GemmBView& b);
  // Packed into `storage` (64-byte aligned, PackedFloats(b.k, b.n) floats, not owned): a
  // kernel's planned scratch.
  PackedGemmB(const GemmBView& b, float* storage);
  // Room for a [k, n] matrix's panels, not yet written: PackPanels fills them, so that callers
  // can pack a large weight on several threads (and fault its fresh pages in on all of them).
  PackedGemmB(int64_t k, int64_t n);
  // Packs B's panels [first, end) (b.k == k(), b.n == n()); each panel once, from any thread.
  void PackPanels(const GemmBView& b, int64_t first, int64_t end);
  // Once every panel is packed: AdviseHugePages (kernels/aligned_alloc.h) for the memory it owns.
  void AdviseHugePages() const;

  // Floats the packed form of a [k, n] matrix takes.
  static int64_t PackedFloats(int64_t k, int64_t n) {
    return (n + kGemmPanelWidth - 1) / kGemmPanelWidth * k * kGemmPanelWidth;
  }

  int64_t k() const { return k_; }
  int64_t n() const { return n_; }
  int64_t panels() const { return (n_ + kGemmPanelWidth - 1) / kGemmPanelWidth; }
  // Panel p: k() rows of kGemmPanelWidth floats, 64-byte aligned.
  const float* panel(int64_t p) const { return data_ + p * k_ * kGemmPanelWidth; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  int64_t k_ = 0;
  int64_t n_ = 0;
  std::unique_ptr<float[], Free> owned_;
  float* data_ = nullptr;  // owned_ or the caller's storage
};

// Writes rows [k0, k0 + kc) of B's columns [col0, col0 + kGemmPanelWidth) as kc rows of
// kGemmPanelWidth floats, zero past column n: the panel layout PackedGemmB stores.
void PackGemmPanel(const GemmBView& b, int64_t k0, int64_t kc, int64_t col0, float* out);

// An [m, n] output cut into tiles for `threads` threads: rows in balanced blocks of at most
// kGemmTileRows (multiples of 6 but the last), columns in blocks of kGemmTileCols, halved down to
// one panel while there are fewer than kGemmTilesPerThread tiles per thread, then rows in blocks
// of at most kGemmTileRowsMin if there still are (197 x 768, a ViT layer's output, is 12 tiles
// of 198 x 64 for 2 threads, 36 of 66 x 64 for 16), so that many threads get even shares. Tile t
// covers rows [t / col_tiles * rows_per_tile, ...) and columns [t % col_tiles * cols_per_tile,
// ...).
struct GemmTiles {
  GemmTiles(int64_t m, int64_t n, int threads = 1);
  int64_t count() const { return row_tiles * col_tiles; }
  int64_t m, n, rows_per_tile, cols_per_tile, row_tiles, col_tiles;
};

// Rows [row0, row1) and columns [col0, col1) of the output: one tile (col0 a multiple of
// kGemmPanelWidth).
struct GemmTileBounds {
  size_t row0, row1, col0, col1;
};

// One tile of C, or all of it. `a` points at A[0, 0] and `c` at C[0, 0]; tiles.n == b.n().
void GemmF32Tile(const float* a, int64_t lda, const PackedGemmB& b, float* c, int64_t ldc,
                 const GemmTiles& tiles, const GemmEpilogue& epilogue, int64_t tile);
void GemmF32(const float* a, int64_t lda, const PackedGemmB& b, float* c, int64_t ldc, int64_t m,
             const GemmEpilogue& epilogue = {});

// The same with an unpacked B, for products of two activations (one call per attention head).
void GemmF32Tile(const float* a, int64_t lda, const GemmBView& b, float* c, int64_t ldc,
                 const GemmTiles& tiles, const GemmEpilogue& epilogue, int64_t tile);
void GemmF32(const float* a, int64_t lda, const GemmBView& b, float* c, int64_t ldc, int64_t m,
             const GemmEpilogue& epilogue = {});

}  // namespace qclip
