// Graph rewrites applied at load: each recognises a pattern the exporters emit and replaces it by
// one fused node (domain "qclip"), leaving anything it does not recognise exactly as it was.
#pragma once

#include "graph/ir.h"

namespace qclip {

// Runs every pass below in order.
void RunGraphPasses(Graph& g);

}  // namespace qclip
