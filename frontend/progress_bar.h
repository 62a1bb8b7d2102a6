// Fit's progress bar (FitOptions::verbose 1), as tf-keras's Progbar draws it: "  7/563
// [=>............................] - ETA: 42s - loss: 0.1234", the count in steps.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace rill {

// One epoch's bar on `log`: a step's line replaces the last one ('\r', padded with spaces over
// what a longer one left) at most every kInterval, so that thousands of steps do not write
// megabytes; the first step's line and the epoch's last (Finish) are always drawn.
class ProgressBar {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::duration<double> kInterval{0.05};  // Progbar's `interval`

  ProgressBar(std::FILE* log, int64_t steps, Clock::time_point start)
      : log_(log), steps_(steps), start_(start) {}

  // Whether a step ending now would be drawn.
  bool Due() const { return !drawn_ || Clock::now() - last_draw_ >= kInterval; }
  // After `done` of the steps (fewer than all): the bar, the ETA and the running `values`
  // (" - loss: 0.1234 ...").
  void Step(int64_t done, const std::string& values);
  // The epoch's line: every step, the epoch's time and its results `values`, then a newline.
  void Finish(const std::string& values);

 private:
  void Draw(std::string line, bool last);

  std::FILE* log_;
  int64_t steps_;
  Clock::time_point start_;
  bool drawn_ = false;
  Clock::time_point last_draw_;
  size_t width_ = 0;  // of the line on the terminal now
};

}  // namespace rill
