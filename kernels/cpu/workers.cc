#include "kernels/cpu/workers.h"

#include <chrono>

namespace rill::cpu {
namespace {

// How long a waiting thread spins before it sleeps.
constexpr std::chrono::microseconds kSpin{200};

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until done() or kSpin has passed; true when done() held.
template <typename Done>
bool SpinUntil(Done&& done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (done()) return true;
    CpuRelax();
    if (i % 64 == 63 && std::chrono::steady_clock::now() > deadline) return false;
  }
}

}  // namespace

Workers& Workers::Get() {
  static Workers workers;
  return workers;
}

void Workers::Run(int parts, const std::function<void(int)>& fn) {
  std::unique_lock<std::mutex> busy(run_mu_, std::try_to_lock);
  if (parts <= 1 || !busy.owns_lock()) {
    for (int i = 0; i < parts; ++i) fn(i);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t last = ticket_.load(std::memory_order_relaxed) >> 16, generation = last + 1;
    // A new thread is told the last generation it has "seen": read from ticket_ itself, it
    // could already be this job's and the job would be skipped.
    while (static_cast<int>(threads_.size()) < parts - 1) {
      const int index = static_cast<int>(threads_.size()) + 1;
      threads_.emplace_back([this, index, last] { Loop(index, last); });
    }
    job_ = &fn;
    pending_.store(parts - 1, std::memory_order_relaxed);
    ticket_.store(Ticket(generation, parts), std::memory_order_release);
  }
  work_cv_.notify_all();
  fn(0);
  auto all_done = [this] { return pending_.load(std::memory_order_acquire) == 0; };
  if (!SpinUntil(all_done)) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, all_done);
  }
}

Workers::~Workers() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_release);
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void Workers::Loop(int index, uint64_t seen) {
  for (;;) {
    uint64_t ticket = 0;
    auto new_job = [&] {
      ticket = ticket_.load(std::memory_order_acquire);
      return (ticket >> 16) != seen || stop_.load(std::memory_order_acquire);
    };
    if (!SpinUntil(new_job)) {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, new_job);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = ticket >> 16;
    if (index >= static_cast<int>(ticket & 0xffff)) continue;
    (*job_)(index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // Under mu_, so that Run cannot check pending_ and then sleep past this notification.
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
  }
}

}  // namespace rill::cpu
