#include "util/thread_pool.h"

#include <chrono>

namespace qclip {
namespace {

// The CPU's spin-wait hint: lets the sibling hyperthread run and saves power, without the
// system call of std::this_thread::yield().
inline void CpuPause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Returns once done() holds or about `spin` has passed: ops follow each other within
// microseconds during a Run, so a waiting thread first spins on the CPU's pause hint (a
// sched_yield per check cost a system call, several microseconds under a hypervisor, and showed
// as 15% of a 2-thread text query's time), then yields the core for as long again. The caller
// blocks after that.
template <class Done>
bool SpinUntil(const Done& done, std::chrono::microseconds spin) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point pause_end = Clock::now() + spin, yield_end = pause_end + spin;
  for (unsigned i = 1;; ++i) {
    if (done()) return true;
    CpuPause();
    if (i % 64 == 0 && Clock::now() > pause_end) break;
  }
  while (Clock::now() < yield_end) {
    if (done()) return true;
    std::this_thread::yield();
  }
  return done();
}

}  // namespace

thread_local bool ThreadPool::tls_inside_ = false;

int ThreadPool::HardwareThreads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int threads)
    : shares_(static_cast<size_t>(threads <= 0 ? HardwareThreads() : threads)) {
  if (threads <= 0) threads = HardwareThreads();
  for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { WorkerLoop(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& w : workers_) w.join();
}

void ThreadPool::RunTasks(int thread) {
  tls_inside_ = true;
  const size_t n = shares_.size();
  for (size_t i = 0; i < n; ++i) {
    Share& share = shares_[(static_cast<size_t>(thread) + i) % n];
    for (;;) {
      const int64_t task = share.next.fetch_add(1, std::memory_order_relaxed);
      if (task >= share.end) break;
      call_(fn_, task, thread);
    }
  }
  tls_inside_ = false;
}

void ThreadPool::Dispatch(int64_t n_tasks, TaskFn call, const void* fn) {
  std::lock_guard<std::mutex> dispatch(dispatch_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    call_ = call;
    fn_ = fn;
    const int64_t n = static_cast<int64_t>(shares_.size());
    const int64_t base = n_tasks / n, longer = n_tasks % n;
    int64_t begin = 0;
    for (int64_t t = 0; t < n; ++t) {
      shares_[t].next.store(begin, std::memory_order_relaxed);
      begin += base + (t < longer ? 1 : 0);
      shares_[t].end = begin;
    }
    busy_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    epoch_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  RunTasks(0);
  // Wait for workers to finish their last task: spin briefly (tasks are short), then block.
  if (SpinUntil([this] { return busy_.load(std::memory_order_acquire) == 0; },
                std::chrono::microseconds(200))) {
    return;
  }
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [this] { return busy_.load(std::memory_order_acquire) == 0; });
}

void ThreadPool::WorkerLoop(int thread) {
  uint64_t seen = 0;
  for (;;) {
    // Spin a little for the next job: ops come back to back during a Run.
    SpinUntil([&] { return epoch_.load(std::memory_order_acquire) != seen; },
              std::chrono::microseconds(200));
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || epoch_.load(std::memory_order_acquire) != seen; });
      if (stop_) return;
      seen = epoch_.load(std::memory_order_acquire);
    }
    RunTasks(thread);
    if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      done_.notify_one();
    }
  }
}

}  // namespace qclip
