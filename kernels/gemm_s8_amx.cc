#include "kernels/gemm_s8_amx.h"

#include <array>
#include <atomic>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/gemm_s8.h"

#if defined(__x86_64__) && defined(__linux__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#define QCLIP_HAVE_AMX 1
#else
#define QCLIP_HAVE_AMX 0
#endif

namespace qclip {
namespace {

#if QCLIP_HAVE_AMX

// CPUID.(EAX=7, ECX=0):EDX bits 24 and 25; Linux's arch_prctl request for the tile data state
// (XFEATURE_XTILEDATA = 18), which a process must make before its first tile instruction.
bool AmxSupported() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  constexpr unsigned kAmxTile = 1u << 24, kAmxInt8 = 1u << 25;
  if ((edx & kAmxTile) == 0 || (edx & kAmxInt8) == 0) return false;
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

bool AmxWanted() {
  const char* env = std::getenv("QCLIP_AMX");
  return env == nullptr || std::strcmp(env, "0") != 0;
}

#else

bool AmxSupported() { return false; }
bool AmxWanted() { return false; }

#endif

std::atomic<bool> amx_disabled_for_testing{false};

}  // namespace

bool AmxUsable() {
  static const bool usable = AmxWanted() && AmxSupported();
  return usable && !amx_disabled_for_testing.load(std::memory_order_relaxed);
}

void SetAmxForTesting(bool enabled) {
  amx_disabled_for_testing.store(!enabled, std::memory_order_relaxed);
}

#if QCLIP_HAVE_AMX

namespace {

// Palette 1: 8 tiles of up to 16 rows x 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

}  // namespace

__attribute__((target("amx-tile"))) void AmxConfigure(const AmxTileShapes& shapes) {
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.colsb[t] = shapes.bytes_per_row[t];
    config.rows[t] = shapes.rows[t];
  }
  // GCC 12's _tile_loadconfig tells the compiler it reads 8 bytes of the configuration, so the
  // stores of the rest were dropped as dead; this operand is all 64.
  asm volatile("ldtilecfg %0" : : "m"(config));
}

void AmxBegin(size_t rows) {
  // Sums (tiles 0-3) and activations (4-5) have `rows` rows; weights (6-7) 16 k groups.
  AmxTileShapes shapes;
  for (int t = 0; t < 8; ++t) {
    shapes.rows[t] = static_cast<uint8_t>(t < 6 ? rows : kAmxRows);
    shapes.bytes_per_row[t] = 64;
  }
  AmxConfigure(shapes);
}

__attribute__((target("amx-tile"))) void AmxEnd() { _tile_release(); }

// A weight tile's rows (k groups) are 64 bytes apart, its next k step kPackedStepBytes on, the
// next 16 columns kPackedTileBytes on (gemm_s8.h).
constexpr size_t kWeightRowBytes = kPackedTileCols * 4;

// Tiles: sums 0-3 (a0's and a1's rows x columns 0-15 and 16-31), activations 4-5 (a0's and
// a1's 16 rows), weights 6-7 (columns 0-15, 16-31). Tile numbers are immediates.
__attribute__((target("amx-tile,amx-int8"))) void AmxMulTwoTileRowsU8S8(
    const uint8_t* a0, const uint8_t* a1, size_t lda, size_t K, const int8_t* b, int32_t* c) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (size_t k = 0; k < K; k += kAmxK) {
    const int8_t* w = b + k / kAmxK * kPackedStepBytes;
    _tile_loadd(4, a0 + k, lda);
    _tile_loadd(5, a1 + k, lda);
    _tile_loadd(6, w, kWeightRowBytes);
    _tile_loadd(7, w + kPackedTileBytes, kWeightRowBytes);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  constexpr size_t kStride = kAmxCols * sizeof(int32_t);
  _tile_stored(0, c, kStride);
  _tile_stored(1, c + 16, kStride);
  _tile_stored(2, c + kAmxRows * kAmxCols, kStride);
  _tile_stored(3, c + kAmxRows * kAmxCols + 16, kStride);
}

// The one-tile-row product asks for its weights this many k steps (12 KiB) ahead, past the end of
// its panel into the next one (a thread's panels lie in a row in memory; prefetches never fault):
// the hardware prefetcher alone leaves the stream short of the core's bandwidth. Text --exact, 8
// tokens, 2 threads: 2 steps within the panel 3-6% faster than none (seventh session); 3 steps
// across panels 4-6% faster again, 4 as fast, 5-6 no gain, 8 slower (fourteenth session).
constexpr size_t kPrefetchSteps = 3;

// One tile row against a whole panel (4 column tiles): every weight byte is used when it is read,
// so the weights stream from memory in order. Tiles: sums 0-3 (columns 0-15, ..., 48-63),
// activations 4, weights 6-7, each loaded twice per k step.
__attribute__((target("amx-tile,amx-int8"))) void AmxMulOneTileRowU8S8(const uint8_t* a, size_t lda,
                                                                       size_t K, const int8_t* b,
                                                                       int32_t* c) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (size_t k = 0; k < K; k += kAmxK) {
    const int8_t* w = b + k / kAmxK * kPackedStepBytes;
    // An address, not a pointer into b: it may lie past the weights' end.
    const uintptr_t ahead = reinterpret_cast<uintptr_t>(w) + kPrefetchSteps * kPackedStepBytes;
    for (size_t line = 0; line < kPackedStepBytes; line += 64) {
      _mm_prefetch(
          reinterpret_cast<const char*>(ahead + line),  // NOLINT(performance-no-int-to-ptr)
          _MM_HINT_T0);
    }
    _tile_loadd(4, a + k, lda);
    _tile_loadd(6, w, kWeightRowBytes);
    _tile_loadd(7, w + kPackedTileBytes, kWeightRowBytes);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_loadd(6, w + 2 * kPackedTileBytes, kWeightRowBytes);
    _tile_loadd(7, w + 3 * kPackedTileBytes, kWeightRowBytes);
    _tile_dpbusd(2, 4, 6);
    _tile_dpbusd(3, 4, 7);
  }
  constexpr size_t kStride = kAmxPanelCols * sizeof(int32_t);
  _tile_stored(0, c, kStride);
  _tile_stored(1, c + 16, kStride);
  _tile_stored(2, c + 32, kStride);
  _tile_stored(3, c + 48, kStride);
}

void AmxBeginBlockwise(size_t rows) {
  // Sums 0-3 (rows x 16 int32), activations 4-5 (rows of a block), weights 6-7 (a block's k
  // groups x 16 columns); below 16 rows, sums and activations have the row of ones too.
  AmxTileShapes shapes;
  const size_t tile_rows = rows < kAmxRows ? rows + 1 : rows;
  for (int t = 0; t < 8; ++t) {
    shapes.rows[t] = static_cast<uint8_t>(t < 6 ? tile_rows : kActivationBlock / 4);
    shapes.bytes_per_row[t] = static_cast<uint16_t>(t == 4 || t == 5 ? kActivationBlock : 64);
  }
  AmxConfigure(shapes);
}

const uint8_t* AmxRowsWithOnes(const uint8_t* a, size_t lda, size_t rows, size_t K) {
  assert(rows >= 1 && rows < kAmxRows && K > 0);
  thread_local std::vector<uint8_t> buffer;  // grows to the largest product, then stays
  if (buffer.size() < (rows + 1) * K) {
    buffer.resize((rows + 1) * K);
  }
  for (size_t r = 0; r < rows; ++r) {
    std::memcpy(buffer.data() + r * K, a + r * lda, K);
  }
  std::memset(buffer.data() + rows * K, 1, K);
  return buffer.data();
}

namespace {

constexpr size_t kTileSums = kAmxRows * 16;  // int32 sums of one tile
// Buffers the stored sums rotate through, and how many steps after its product a block is
// folded (a fold at 3 steps with 2 buffers, or at 5, measured 5-10% slower at 197 x 768 x 3072).
constexpr size_t kSumsBuffers = 4;
constexpr size_t kFoldLag = 4;

// acc[r] += scale[r] * float(sums[r] + the zero-point terms) for the kRows rows of block
// `block`, its sums in sums[block % kSumsBuffers]: FoldBlock of gemm_s8-inl.h, operation for
// operation.
//
// Below 16 rows, sums row kRows holds the block's weight sums (the row of ones after the
// activations): the column side, PackBlockTermsS8's int16 pair (weight sum, zero point), is then
// that row in the low halves and zero_points_hi in the high ones, and the packed terms are read
// once per call, for the zero points, instead of once per block.
template <size_t kRows>
__attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vnni"), always_inline)) inline void
FoldBlockSums(size_t block, const int32_t (*sums)[kTileSums], const ActivationBlock* a_blocks,
              size_t a_stride, const int32_t* b_terms, size_t b_terms_stride,
              __m512i zero_points_hi, __m512* acc) {
  const int32_t* block_sums = sums[block % kSumsBuffers];
  const ActivationBlock* block_a = a_blocks + block * a_stride;
  const __m512i block_b_terms =
      kRows < kAmxRows ? _mm512_mask_blend_epi16(0x55555555, zero_points_hi,
                                                 _mm512_load_si512(block_sums + kRows * 16))
                       : _mm512_loadu_si512(b_terms + block * b_terms_stride);
#pragma GCC unroll 16
  for (size_t r = 0; r < kRows; ++r) {
    const __m512i c =
        _mm512_dpwssd_epi32(_mm512_load_si512(block_sums + r * 16),
                            _mm512_set1_epi32(block_a[r].zero_point_terms), block_b_terms);
    acc[r] = _mm512_add_ps(acc[r],
                           _mm512_mul_ps(_mm512_cvtepi32_ps(c), _mm512_set1_ps(block_a[r].scale)));
  }
}

// A tile of fewer than 16 rows (a text query) streams its weights from memory: it asks for them
// this many blocks (2 KiB of its column) ahead (text default mode, 8 tokens, 2 threads: 4.7-5.2
// -> 4.4-4.7 ms; 8 blocks the same, 16 less; no prefetch no faster than the vector tiles). Its
// blocks' weight sums come from the row of ones (FoldBlockSums): read from memory beside the
// weights, 12.5% more bytes, their loads were 11% of the kernel's samples; prefetched, the query
// was 5-8% faster, and from the row of ones 7% faster again (fourteenth session).
constexpr size_t kFewRowsPrefetchBlocks = 4;

// AmxMulBlockwiseU8S8 for tiles of kRows rows: folds and float sums of those rows only.
template <size_t kRows>
__attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vnni"))) void MulBlockwiseRows(
    const uint8_t* a, size_t lda, size_t K, const int8_t* b, const ActivationBlock* a_blocks,
    size_t a_stride, const int32_t* b_terms, size_t b_terms_stride, const float* b_scales,
    const float* bias, float* y, size_t ldy, size_t cols) {
  constexpr size_t kBlockGroups = kActivationBlock / 4;
  alignas(64) int32_t sums[kSumsBuffers][kTileSums];
  __m512 acc[kRows];
#pragma GCC unroll 16
  for (size_t r = 0; r < kRows; ++r) acc[r] = _mm512_setzero_ps();
  const size_t blocks = K / kActivationBlock;
  // Below 16 rows, the weight zero points: the high halves of every block's terms
  // (PackBlockTermsS8), read from block 0 when there is one.
  const __m512i zero_points_hi =
      kRows < kAmxRows && blocks > 0
          ? _mm512_and_si512(_mm512_loadu_si512(b_terms),
                             _mm512_set1_epi32(static_cast<int>(0xFFFF0000u)))
          : _mm512_setzero_si512();
  // Step s issues block s's product (sums tile s % 4, activations 4 + s % 2, weights 6 + s % 2),
  // stores block s - 2's sums (issued two steps earlier) and folds block s - kFoldLag's (stored
  // two steps earlier): no step waits on a product it just issued or on a tile still being
  // stored, nor loads sums just stored. Tile numbers are immediates, hence four steps written
  // out.
#define QCLIP_BLOCKWISE_STEP(s, sums_tile, a_tile, b_tile, store_tile)                        \
  if ((s) < blocks) {                                                                         \
    if (kRows < kAmxRows && (s) + kFewRowsPrefetchBlocks < blocks) {                          \
      const char* ahead = reinterpret_cast<const char*>(                                      \
          b + PackedGroupOffset(((s) + kFewRowsPrefetchBlocks) * kBlockGroups));              \
      for (size_t line = 0; line < kBlockGroups * kWeightRowBytes; line += 64) {              \
        _mm_prefetch(ahead + line, _MM_HINT_T0);                                              \
      }                                                                                       \
    }                                                                                         \
    _tile_zero(sums_tile);                                                                    \
    _tile_loadd(a_tile, a + (s)*kActivationBlock, lda);                                       \
    _tile_loadd(b_tile, b + PackedGroupOffset((s)*kBlockGroups), kWeightRowBytes);            \
    _tile_dpbusd(sums_tile, a_tile, b_tile);                                                  \
  }                                                                                           \
  if ((s) >= 2 && (s)-2 < blocks) _tile_stored(store_tile, sums[((s)-2) % kSumsBuffers], 64); \
  if ((s) >= kFoldLag && (s)-kFoldLag < blocks) {                                             \
    FoldBlockSums<kRows>((s)-kFoldLag, sums, a_blocks, a_stride, b_terms, b_terms_stride,     \
                         zero_points_hi, acc);                                                \
  }
  for (size_t step = 0; step < blocks + kFoldLag; step += 4) {
    QCLIP_BLOCKWISE_STEP(step, 0, 4, 6, 2)
    QCLIP_BLOCKWISE_STEP(step + 1, 1, 5, 7, 3)
    QCLIP_BLOCKWISE_STEP(step + 2, 2, 4, 6, 0)
    QCLIP_BLOCKWISE_STEP(step + 3, 3, 5, 7, 1)
  }
#undef QCLIP_BLOCKWISE_STEP

  const __mmask16 mask = static_cast<__mmask16>((1u << cols) - 1);
  const __m512 b_scale = _mm512_maskz_loadu_ps(mask, b_scales);
  const __m512 b_bias = bias != nullptr ? _mm512_maskz_loadu_ps(mask, bias) : _mm512_setzero_ps();
#pragma GCC unroll 16
  for (size_t r = 0; r < kRows; ++r) {
    __m512 out = _mm512_mul_ps(acc[r], b_scale);
    if (bias != nullptr) out = _mm512_add_ps(out, b_bias);
    _mm512_mask_storeu_ps(y + r * ldy, mask, out);
  }
}

using MulBlockwiseRowsFn = void (*)(const uint8_t*, size_t, size_t, const int8_t*,
                                    const ActivationBlock*, size_t, const int32_t*, size_t,
                                    const float*, const float*, float*, size_t, size_t);

template <size_t... kRowsMinusOne>
constexpr std::array<MulBlockwiseRowsFn, sizeof...(kRowsMinusOne)> MakeMulBlockwiseRows(
    std::index_sequence<kRowsMinusOne...>) {
  return {&MulBlockwiseRows<kRowsMinusOne + 1>...};
}

// MulBlockwiseRows<rows> at [rows - 1], rows 1 to 16.
constexpr auto kMulBlockwiseRows = MakeMulBlockwiseRows(std::make_index_sequence<kAmxRows>());

}  // namespace

void AmxMulBlockwiseU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K, const int8_t* b,
                         const ActivationBlock* a_blocks, size_t a_stride, const int32_t* b_terms,
                         size_t b_terms_stride, const float* b_scales, const float* bias, float* y,
                         size_t ldy, size_t cols) {
  assert(rows >= 1 && rows <= kAmxRows);
  kMulBlockwiseRows[rows - 1](a, lda, K, b, a_blocks, a_stride, b_terms, b_terms_stride, b_scales,
                              bias, y, ldy, cols);
}

#else

void AmxBeginBlockwise(size_t) {}
const uint8_t* AmxRowsWithOnes(const uint8_t* a, size_t, size_t, size_t) { return a; }
void AmxMulBlockwiseU8S8(const uint8_t*, size_t, size_t, size_t, const int8_t*,
                         const ActivationBlock*, size_t, const int32_t*, size_t, const float*,
                         const float*, float*, size_t, size_t) {}
void AmxConfigure(const AmxTileShapes&) {}
void AmxBegin(size_t) {}
void AmxEnd() {}
void AmxMulTwoTileRowsU8S8(const uint8_t*, const uint8_t*, size_t, size_t, const int8_t*,
                           int32_t*) {}
void AmxMulOneTileRowU8S8(const uint8_t*, size_t, size_t, const int8_t*, int32_t*) {}

#endif

}  // namespace qclip
