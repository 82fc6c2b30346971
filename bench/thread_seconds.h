// Thread CPU time for the benchmarks that rate their fastest iteration.
#pragma once

#include <time.h>

namespace qclip {

// Seconds of CPU time this thread has used: the machine may be shared, and wall time would
// count the time other processes hold the core.
inline double ThreadSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

}  // namespace qclip
