// Umbrella header for the qclip public API.
#pragma once

#include "qclip/encoder.h"  // IWYU pragma: export
#include "qclip/error.h"    // IWYU pragma: export
#include "qclip/npy.h"      // IWYU pragma: export
#include "qclip/session.h"  // IWYU pragma: export
#include "qclip/tensor.h"   // IWYU pragma: export
