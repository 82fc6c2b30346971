// ThreadPool: every task runs exactly once, whether the workers are still spinning from the last
// job (back-to-back calls, as the ops of a Run) or have gone to sleep (a long gap), a call from
// inside a task runs inline, and calls from several threads are serialised; each thread starts on
// its own contiguous share of the tasks.
#include "util/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

using qclip::ThreadPool;

// Runs n tasks and checks that each ran once, on a valid thread index.
void ExpectEachTaskOnce(ThreadPool& pool, int64_t n) {
  std::vector<std::atomic<int>> runs(static_cast<size_t>(n));
  std::atomic<bool> bad_thread{false};
  pool.ParallelFor(n, [&](int64_t task, int thread) {
    runs[static_cast<size_t>(task)].fetch_add(1);
    if (thread < 0 || thread >= pool.size()) bad_thread = true;
  });
  for (int64_t t = 0; t < n; ++t) ASSERT_EQ(runs[static_cast<size_t>(t)].load(), 1) << "task " << t;
  EXPECT_FALSE(bad_thread.load());
}

TEST(ThreadPool, BackToBackCallsWhileWorkersSpin) {
  for (const int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int call = 0; call < 2000; ++call) ExpectEachTaskOnce(pool, 1 + call % 17);
  }
}

// 8 tasks over 2 threads: shares [0, 4) and [4, 8). Tasks 0 and 4 each wait until the other
// has started, so neither thread can take the other's first task before starting its own: the
// caller (thread 0) must start with task 0 and the worker with task 4 (handed out one at a time,
// the worker would start with task 1). The other tasks go to whichever thread is free, and each
// runs once.
TEST(ThreadPool, EachThreadStartsOnItsOwnShare) {
  ThreadPool pool(2);
  for (int call = 0; call < 200; ++call) {
    std::atomic<int> first[2] = {-1, -1};
    std::atomic<bool> started[2] = {false, false};  // tasks 0 and 4
    std::atomic<int> runs{0};
    pool.ParallelFor(8, [&](int64_t task, int thread) {
      int none = -1;
      first[thread].compare_exchange_strong(none, static_cast<int>(task));
      if (task == 0 || task == 4) {
        started[task / 4] = true;
        while (!started[1 - task / 4]) std::this_thread::yield();
      }
      runs.fetch_add(1);
    });
    ASSERT_EQ(first[0].load(), 0);
    ASSERT_EQ(first[1].load(), 4);
    ASSERT_EQ(runs.load(), 8);
  }
}

TEST(ThreadPool, CallsAfterWorkersHaveGoneToSleep) {
  ThreadPool pool(3);
  for (int call = 0; call < 5; ++call) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // past the spin: workers block
    ExpectEachTaskOnce(pool, 64);
  }
}

TEST(ThreadPool, NoTasksAndNestedCalls) {
  ThreadPool pool(2);
  ExpectEachTaskOnce(pool, 0);
  std::atomic<int> inner{0};
  pool.ParallelFor(4, [&](int64_t, int) {
    pool.ParallelFor(3, [&](int64_t, int thread) {
      inner.fetch_add(1);
      EXPECT_GE(thread, 0);
    });
  });
  EXPECT_EQ(inner.load(), 12);
}

TEST(ThreadPool, CallsFromSeveralThreadsAreSerialised) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      for (int call = 0; call < 200; ++call) {
        pool.ParallelFor(10, [&](int64_t task, int) { total.fetch_add(task); });
      }
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(total.load(), 4 * 200 * 45);
}

}  // namespace
