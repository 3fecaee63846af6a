// Worker threads and scratch memory for the portable gemm.
//
// Large products are cut into slabs (gemm_portable.cpp) that run on the
// calling thread and a small pool of long-lived workers. Starting a
// std::thread per product costs tens of microseconds; a pooled worker that
// has just finished spins briefly before it sleeps, so the back-to-back
// products of a training step wake it quickly, while an idle program leaves
// it asleep.
//
// Slabs are claimed, not assigned: every participant takes the next unclaimed
// slab from a counter until none is left. On a machine shared with other
// processes a worker may not get a core for milliseconds; with fixed
// assignment the caller would wait for it, with claiming the caller simply
// does that slab itself.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "fp_control.hpp"
#include "gemm_internal.hpp"

namespace ad::linalg::detail {

namespace {

// How long a worker keeps polling for the next task before it sleeps on the
// condition variable.
constexpr auto worker_spin = std::chrono::microseconds(100);

void relax() noexcept {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_ia32_pause();
#endif
}

class WorkerPool {
 public:
  WorkerPool() = default;
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  ~WorkerPool() {
    {
      std::lock_guard lock(wake_mutex_);
      stopping_.store(true);
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

  // False when another thread is using the pool right now.
  bool try_run(int threads, int parts, void (*task)(void*, int), void* context) {
    std::unique_lock busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    while (workers_.size() < static_cast<std::size_t>(threads - 1)) {
      const int index = static_cast<int>(workers_.size()) + 1;
      workers_.emplace_back([this, index] { work(index); });
    }
    task_ = task;
    context_ = context;
    // Workers compute in the caller's mode (flush-to-zero); published with the job below.
    fp_control_.store(ad::detail::fp_control(), std::memory_order_relaxed);
    done_parts_.store(0, std::memory_order_relaxed);
    const std::uint64_t generation = ++generation_ & generation_mask;
    // Opens the job; the release publishes task_ and context_ to whoever
    // claims a part of it.
    claims_.store(generation << 24 | static_cast<std::uint64_t>(parts) << 12, std::memory_order_release);
    {
      std::lock_guard lock(wake_mutex_);
      posted_.store(generation << 8 | static_cast<std::uint64_t>(threads), std::memory_order_release);
    }
    wake_.notify_all();

    run_claimed(generation);
    // Parts still running on workers: at most one each.
    for (unsigned polls = 0; done_parts_.load(std::memory_order_acquire) != parts; ++polls) {
      if (polls < 4096) {
        relax();
      } else {
        std::this_thread::yield();
      }
    }
    return true;
  }

 private:
  static constexpr std::uint64_t generation_mask = (std::uint64_t{1} << 40) - 1;

  // Claims the next part of job `generation`: -1 when that job has no
  // unclaimed part left or is no longer the current one. Generation, part
  // count and next part share one word, so a worker that wakes late can never
  // claim (and so never touch the task of) a job that has finished.
  int claim(std::uint64_t generation) {
    std::uint64_t word = claims_.load(std::memory_order_acquire);
    for (;;) {
      const std::uint64_t next = word & 0xfff, parts = (word >> 12) & 0xfff;
      if ((word >> 24) != generation || next >= parts) return -1;
      if (claims_.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
        return static_cast<int>(next);
      }
    }
  }

  void run_claimed(std::uint64_t generation) {
    for (int part; (part = claim(generation)) >= 0;) {
      task_(context_, part);
      done_parts_.fetch_add(1, std::memory_order_release);
    }
  }

  void work(int index) {
    std::uint64_t seen = 0;
    while (wait_for_task(seen)) {
      seen = posted_.load(std::memory_order_acquire);
      if (static_cast<std::uint64_t>(index) < (seen & 0xff)) {
        ad::detail::set_fp_control(fp_control_.load(std::memory_order_relaxed));
        run_claimed(seen >> 8);
      }
    }
  }

  // Waits until a task newer than `seen` is posted; false when stopping.
  bool wait_for_task(std::uint64_t seen) {
    const auto spin_until = std::chrono::steady_clock::now() + worker_spin;
    for (unsigned polls = 0;; ++polls) {
      if (stopping_.load()) return false;
      if (posted_.load() != seen) return true;
      if (polls % 64 == 63 && std::chrono::steady_clock::now() > spin_until) break;
      relax();
    }
    std::unique_lock lock(wake_mutex_);
    wake_.wait(lock, [&] { return stopping_.load() || posted_.load() != seen; });
    return !stopping_.load();
  }

  std::mutex run_mutex_;  // one product at a time
  std::vector<std::thread> workers_;
  std::uint64_t generation_ = 0;

  // The current job, written by the caller before it opens the job.
  void (*task_)(void*, int) = nullptr;
  void* context_ = nullptr;
  std::atomic<std::uint32_t> fp_control_{0};  // the caller's floating-point control word
  std::atomic<std::uint64_t> claims_{0};      // generation << 24 | parts << 12 | next part
  std::atomic<int> done_parts_{0};

  std::atomic<std::uint64_t> posted_{0};  // generation << 8 | threads wanted, for waking
  std::atomic<bool> stopping_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
};

WorkerPool& pool() {
  static WorkerPool instance;
  return instance;
}

// 64-byte aligned, grow-only.
class ScratchBuffer {
 public:
  ScratchBuffer() = default;
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;
  ~ScratchBuffer() { release(); }

  void* get(std::size_t bytes) {
    if (bytes > size_) {
      release();
      data_ = ::operator new(bytes, alignment);
      size_ = bytes;
    }
    return data_;
  }

 private:
  static constexpr std::align_val_t alignment{64};
  void release() noexcept {
    if (data_ != nullptr) ::operator delete(data_, alignment);
    data_ = nullptr;
    size_ = 0;
  }
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace

void run_parts(int threads, int parts, void (*task)(void*, int), void* context) {
  // A part that itself asks for parts (ad::parallel_for around a gemm, say)
  // runs them on its own thread: the pool is busy with the outer job, and
  // the caller of that job holds the pool's mutex.
  thread_local bool inside_part = false;
  threads = std::min({threads, parts, 255});
  if (parts > 4095) threads = 1;  // the pool's claim word counts 12 bits; gemm asks for 1 part per thread
  if (threads > 1 && !inside_part) {
    struct Marked {
      void (*task)(void*, int);
      void* context;
      static void run(void* self, int part) {
        const Marked& m = *static_cast<const Marked*>(self);
        inside_part = true;
        m.task(m.context, part);
        inside_part = false;
      }
    } marked{task, context};
    if (pool().try_run(threads, parts, &Marked::run, &marked)) return;
  }
  for (int part = 0; part < parts; ++part) task(context, part);
}

void* scratch(int slot, std::size_t bytes) {
  thread_local ScratchBuffer buffers[3];
  return buffers[slot].get(bytes);
}

}  // namespace ad::linalg::detail
