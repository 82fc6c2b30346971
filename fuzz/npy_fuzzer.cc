// Fuzzes ParseNpy, the .npy reader behind qclip-run --input and qclip-embed-image --pixels: any
// bytes must give a tensor whose data lies inside them, or a qclip::Error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "qclip/error.h"
#include "qclip/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const qclip::Tensor t = qclip::ParseNpy(data, size, "fuzz.npy");
    // The payload was copied out of the input, so it cannot be larger than it.
    if (t.bytes() > size || (t.size() != 0 && t.raw() == nullptr)) std::abort();
  } catch (const qclip::Error&) {
  }
  return 0;
}
