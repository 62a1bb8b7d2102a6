#include "frontend/progress_bar.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rill {
namespace {

// "<done>/<steps> [====>.....]" as tf-keras's Progbar draws it: the count right-aligned to the
// width of `steps`, '=' for the steps done and '>' at the head until the last.
std::string ProgressLine(int64_t done, int64_t steps, const std::string& time,
                         const std::string& values) {
  constexpr int64_t kWidth = 30;
  const int64_t filled = steps == 0 ? kWidth : kWidth * done / steps;
  std::string bar;
  if (filled > 0) bar = std::string(filled - 1, '=') + (done < steps ? '>' : '=');
  bar.resize(kWidth, '.');
  const int digits = static_cast<int>(absl::StrCat(steps).size());
  return absl::StrFormat("%*d/%d [%s] - %s%s", digits, done, steps, bar, time, values);
}

// Keras's ETA: "42s", "3:07" past a minute, "1:02:03" past an hour (whole seconds, truncated).
std::string EtaText(double seconds) {
  const auto s = static_cast<int64_t>(seconds);
  if (seconds > 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, s % 3600 / 60, s % 60);
  if (seconds > 60) return absl::StrFormat("%d:%02d", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

}  // namespace

void ProgressBar::Step(int64_t done, const std::string& values) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const double eta = elapsed / static_cast<double>(done) * static_cast<double>(steps_ - done);
  Draw(ProgressLine(done, steps_, "ETA: " + EtaText(eta), values), false);
}

void ProgressBar::Finish(const std::string& values) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  Draw(ProgressLine(steps_, steps_, absl::StrFormat("%.1fs", elapsed), values), true);
}

void ProgressBar::Draw(std::string line, bool last) {
  const size_t width = line.size();
  if (width < width_) line.append(width_ - width, ' ');
  width_ = width;
  std::fprintf(log_, "\r%s%s", line.c_str(), last ? "\n" : "");
  std::fflush(log_);
  drawn_ = true;
  last_draw_ = Clock::now();
}

}  // namespace rill
