// Intel AMX-INT8 (Sapphire Rapids and later) for the u8 x s8 products of gemm_s8.h: one TDPBUSD
// multiplies a 16 x 64 tile of activations by a 64 x 16 tile of weights into 16 x 16 exact
// int32 sums, 16 times the work of an AVX-512 VPDPBUSD. Tiles load A in place (16 rows of 64
// bytes, lda apart) and the packed weights in place: PackWeightsS8 stores each weight tile (16
// k groups x 16 columns) as 1 KiB in one piece (gemm_s8.h). The int32
// sums are the same as every other target's, so the epilogues that follow give the same bits.
//
// Highway 1.0.3 has no AMX target: this is plain x86-64 code with function target attributes,
// used by the AVX3_DL target of gemm_s8-inl.h when AmxUsable() says so. Elsewhere it is empty
// and AmxUsable() is false.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qclip {

inline constexpr size_t kAmxRows = 16;       // rows of an activation tile
inline constexpr size_t kAmxK = 64;          // bytes of K per activation tile (16 k groups)
inline constexpr size_t kAmxCols = 32;       // output columns per AmxMulTwoTileRowsU8S8 call
inline constexpr size_t kAmxPanelCols = 64;  // per AmxMulOneTileRowU8S8 call: a packed panel

// The CPU has AMX-INT8 and the OS lets this process use the tile registers (Linux asks for them
// with arch_prctl(ARCH_REQ_XCOMP_PERM) once), and QCLIP_AMX=0 is not set in the environment;
// SetAmxForTesting can turn it off. Checked once, then a load.
bool AmxUsable();

// Makes AmxUsable() return false (or its hardware answer again), so that tests and benchmarks
// can run the AVX-512 kernels on an AMX machine.
void SetAmxForTesting(bool enabled);

// Rows (1 to 16) and bytes per row (4 to 64) of tiles 0-7, palette 1.
struct AmxTileShapes {
  uint8_t rows[8];
  uint16_t bytes_per_row[8];
};

// Configures the calling thread's tiles (AmxBegin's shapes, or others for a benchmark).
void AmxConfigure(const AmxTileShapes& shapes);

// The calling thread's tile configuration for the products below with tiles of `rows` rows
// (1 to 16), and its release (AMX state left configured makes context switches save 8 KiB more).
void AmxBegin(size_t rows);
void AmxEnd();

// c[r * kAmxCols + j] = sum_k a0[r * lda + k] * B[k][j] for r < 16 and j < 32, and rows 16-31
// of c likewise from a1 (two tiles of 16 rows, which may overlap); K a multiple of kAmxK. `b`
// points at B's column 0 in k group 0 of a PackWeightsS8 panel (PackedColumn, a column that is a
// multiple of 16). Between AmxBegin(16) and AmxEnd.
void AmxMulTwoTileRowsU8S8(const uint8_t* a0, const uint8_t* a1, size_t lda, size_t K,
                           const int8_t* b, int32_t* c);

// c[r * kAmxPanelCols + j] = sum_k a[r * lda + k] * B[k][j] for r < the configured tile rows and
// j < 64: one tile row against a whole panel, `b` at its k group 0 (the panel is zero-padded to
// 64 columns). Few rows make the product a stream of the weights from memory; taking whole
// panels reads them in order, each byte once (12-17% more GB/s than 32 columns per call on the
// Intel Xeon of docs/BENCHMARKS.md). Between AmxBegin and AmxEnd.
void AmxMulOneTileRowU8S8(const uint8_t* a, size_t lda, size_t K, const int8_t* b, int32_t* c);

// ------------------------------ Block-wise activations (gemm_s8.h)

struct ActivationBlock;

// The block-wise tiles: sums 0-3 (rows x 16 int32), activations 4-5 (rows of one block's 32
// bytes), weights 6-7 (a block's 8 k groups x 16 columns), rows 1 to 16 (below 16, one more for
// the row of ones). For AmxMulBlockwiseU8S8 with that many rows.
void AmxBeginBlockwise(size_t rows);

// `rows` (1 to 15) rows of K > 0 activations from `a` (lda apart) and a row of K ones after them,
// in the calling thread's buffer (rows K apart; valid until its next call): AmxMulBlockwiseU8S8's
// activations when the caller has no row of ones after its own.
const uint8_t* AmxRowsWithOnes(const uint8_t* a, size_t lda, size_t rows, size_t K);

// The block-wise product (gemm_s8.h) of `rows` (1 to 16) rows and cols <= 16 columns, K a
// multiple of 32:
//   y[r * ldy + j] = (sum_b s[r][b] * float(C_b[r][j])) * b_scales[j] + bias[j]   (bias may be
//   null)
// Each block's raw sums come from one TDPBUSD (rows x 32 activations by 32 x 16 weights), are
// stored and folded into float sums in vectors as the vector kernels fold them (the zero-point
// terms by VPDPWSSD, a conversion, the multiplication by the block's scale, an addition, blocks
// in order): the same bits. Four sums tiles rotate, so that blocks' products, stores and folds
// overlap. `a` and a_blocks (block b of row r at a_blocks[b * a_stride + r])
// at the tile's row 0; `b` at its column 0 in k group 0 of a PackWeightsS8 panel (PackedColumn,
// a column that is a multiple of 16), b_terms at its column 0 in block 0 (blocks b_terms_stride
// apart), b_scales and bias at its column 0. Between AmxBeginBlockwise(rows) and AmxEnd.
//
// Below 16 rows, `a` has one row more of K ones, whose sums are each block's weight sums: the
// column side of the zero-point terms is then computed from the weights as they stream by, with
// only block 0's terms read for the zero points (a text query reads 11% fewer bytes).
void AmxMulBlockwiseU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K, const int8_t* b,
                         const ActivationBlock* a_blocks, size_t a_stride, const int32_t* b_terms,
                         size_t b_terms_stride, const float* b_scales, const float* bias, float* y,
                         size_t ldy, size_t cols);

}  // namespace qclip
