// Persistent threads for the CPU GRU's batch-parallel recurrence.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rill::cpu {

// Run(parts, fn) calls fn(0) on the caller and fn(1..parts-1) on the workers and returns when
// all are done: two synchronisations per call, none per time step. A call that finds the pool
// busy (another thread inside Run) runs its parts one after another itself.
//
// Waiting spins for a short while (kSpin) before it sleeps on a condition variable, on both
// sides: waking a sleeping thread costs tens of microseconds, more on an idle virtual machine,
// which a millisecond-long GRU call would pay twice; kernel calls that follow each other within
// the spin window pay nothing.
class Workers {
 public:
  static Workers& Get();

  void Run(int parts, const std::function<void(int)>& fn);

  ~Workers();

 private:
  Workers() = default;
  // Runs the jobs of generations after `seen` whose part count exceeds `index`.
  void Loop(int index, uint64_t seen);

  // A job: its generation (upper bits) and its number of parts (lower 16 bits), published in
  // one atomic so that a worker never pairs one job's generation with another's part count.
  static uint64_t Ticket(uint64_t generation, int parts) { return generation << 16 | parts; }

  std::mutex run_mu_;  // held by the thread inside Run
  std::mutex mu_;      // guards the sleeps (work_cv_, done_cv_) and the thread list
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::vector<std::thread> threads_;
  const std::function<void(int)>* job_ = nullptr;  // written before the ticket that names it
  std::atomic<uint64_t> ticket_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace rill::cpu
