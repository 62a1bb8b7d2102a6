// Timing for the benchmarks: the median of repeated calls after one untimed warm-up (the first
// touch of buffers, threads starting), in milliseconds: at least `reps` calls, and more for
// short calls until 0.25 s of them were timed (at most 4000), so that one preemption of a
// virtual machine's core cannot move the median of a sub-millisecond call.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace rill::bench {

// The median of `v` (the mean of the two middle values when their number is even).
inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Seconds the hypervisor has so far run something else while this machine's CPUs had work
// (steal time, summed over the CPUs: /proc/stat, Linux), or -1 where that cannot be read. Counted
// in clock ticks (10 ms on Linux): a virtual machine's core taken away for a tick or more shows.
inline double StolenSeconds() {
  std::ifstream stat("/proc/stat");
  std::string line;
  if (!std::getline(stat, line) || line.rfind("cpu ", 0) != 0) return -1;
  std::istringstream fields(line.substr(4));
  long long ticks[8] = {};  // user nice system idle iowait irq softirq steal
  for (long long& t : ticks) {
    if (!(fields >> t)) return -1;
  }
  return static_cast<double>(ticks[7]) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The first error `run` returns stops the timing and is returned. A pause first lets the threads
// of what ran before go to sleep: libgomp's threads (oneDNN's) spin for milliseconds after their
// last parallel region and would take the cores from the first calls timed here. With `between`,
// each timed call comes that long after the previous one (a server or a stream answering
// requests as they come, caches and threads gone cold), instead of right after it.
inline absl::StatusOr<double> MedianMsOrError(
    int reps, const std::function<absl::Status()>& run,
    std::chrono::microseconds between = std::chrono::microseconds(0)) {
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (absl::Status st = run(); !st.ok()) return st;
  constexpr double kMinTotalMs = 250;
  constexpr int kMaxReps = 4000;
  std::vector<double> ms;
  double total = 0;
  for (int i = 0; i < reps || (total < kMinTotalMs && i < kMaxReps); ++i) {
    if (between.count() > 0) std::this_thread::sleep_for(between);
    const auto t0 = std::chrono::steady_clock::now();
    if (absl::Status st = run(); !st.ok()) return st;
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    total += ms.back();
  }
  return Median(std::move(ms));
}

// For calls that cannot fail (or leave the program themselves).
inline double MedianMs(int reps, const std::function<void()>& run) {
  return *MedianMsOrError(reps, [&] {
    run();
    return absl::OkStatus();
  });
}

}  // namespace rill::bench
