// A fork-join thread pool owned by a Session. ParallelFor splits work into tasks that the
// caller sizes in fixed chunks, so results never depend on how many threads run them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace qclip {

class ThreadPool {
 public:
  // `threads` = total workers including the calling thread; <= 0 means all cores.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(task, thread) for every task in [0, n_tasks), spread over the pool; returns when all
  // are done. `thread` in [0, size()) identifies the worker (for per-thread scratch). Worker t
  // starts on the t-th of size() contiguous shares of the tasks, then helps with the others'
  // (see Share): split work so that a thread's share is the data it touched before.
  // Calls from several threads at once are serialised; a call from inside a task runs inline.
  template <typename Fn>
  void ParallelFor(int64_t n_tasks, const Fn& fn) {
    if (n_tasks <= 0) return;
    if (n_tasks == 1 || workers_.empty() || tls_inside_) {
      for (int64_t t = 0; t < n_tasks; ++t) fn(t, 0);
      return;
    }
    Dispatch(n_tasks, &Trampoline<Fn>, &fn);
  }

  static int HardwareThreads();

 private:
  using TaskFn = void (*)(const void* fn, int64_t task, int thread);
  template <typename Fn>
  static void Trampoline(const void* fn, int64_t task, int thread) {
    (*static_cast<const Fn*>(fn))(task, thread);
  }
  void Dispatch(int64_t n_tasks, TaskFn call, const void* fn);
  void WorkerLoop(int thread);
  void RunTasks(int thread);

  std::vector<std::thread> workers_;
  std::mutex dispatch_mu_;  // one ParallelFor at a time
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  // The job being run.
  TaskFn call_ = nullptr;
  const void* fn_ = nullptr;
  // Tasks are dealt in size() contiguous shares, in order, of n / size() tasks (the first
  // n % size() shares one more), share t to thread t first: ops that split rows into a multiple
  // of size() equal tasks give a thread the same rows each time, so it mostly reads rows it wrote
  // itself (a cache line written by the other core cost ~260 ns to fetch on the 2-vCPU test
  // host). A thread done with its share takes the next tasks of the others'.
  struct alignas(64) Share {
    std::atomic<int64_t> next{0};
    int64_t end = 0;
  };
  std::vector<Share> shares_;
  std::atomic<int> busy_{0};
  std::atomic<uint64_t> epoch_{0};
  bool stop_ = false;
  static thread_local bool tls_inside_;
};

}  // namespace qclip
