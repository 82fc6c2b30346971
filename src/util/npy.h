// Moved to the public API: include/qclip/npy.h.
#pragma once
#include "qclip/npy.h"  // IWYU pragma: export
