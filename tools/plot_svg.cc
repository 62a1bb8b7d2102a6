// A training history as an SVG chart: panels laid out top to bottom, each a frame with a grid,
// tick values, axis labels, a polyline with markers per series and a legend.
#include "tools/plot_svg.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "runtime/output_path.h"

namespace rill::cli {
namespace {

constexpr double kWidth = 680, kPanelHeight = 280, kTitleHeight = 40;
constexpr double kLeft = 80, kRight = 150, kTop = 20, kBottom = 50;  // within a panel
constexpr int kMaxMarkedEpochs = 40;
constexpr const char* kTrainColor = "#1f77b4";
constexpr const char* kValColor = "#ff7f0e";

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// 1, 2 or 5 times a power of ten, at least `raw`.
double NiceStep(double raw) {
  const double decade = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * decade >= raw * (1 - 1e-9)) return m * decade;
  }
  return 10 * decade;
}

std::string TickLabel(double v, double step) {
  if (std::fabs(v) < step * 1e-6) v = 0;
  const double mag = std::max(std::fabs(v), step);
  if (mag >= 1e6 || step < 1e-4) return absl::StrFormat("%.3g", v);
  const int digits = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  return absl::StrFormat("%.*f", digits, v);
}

struct Axis {
  bool log = false;
  double lo = 0, hi = 1;      // in axis units (log10 of the value when `log`)
  std::vector<double> ticks;  // in axis units
  std::vector<std::string> labels;
};

Axis ValueAxis(double min, double max, bool allow_log) {
  Axis axis;
  if (allow_log && min > 0 && max / min > 100) {
    axis.log = true;
    axis.lo = std::floor(std::log10(min));
    axis.hi = std::ceil(std::log10(max));
    const int every = std::max(1, static_cast<int>(std::ceil((axis.hi - axis.lo) / 8)));
    for (double k = axis.lo; k <= axis.hi + 1e-9; k += every) {
      axis.ticks.push_back(k);
      axis.labels.push_back(absl::StrFormat("%g", std::pow(10.0, k)));
    }
    return axis;
  }
  if (max - min <= std::fabs(max) * 1e-12) {
    const double pad = max == 0 ? 1 : std::fabs(max) * 0.1;
    min -= pad;
    max += pad;
  }
  const double step = NiceStep((max - min) / 5);
  axis.lo = std::floor(min / step + 1e-9) * step;
  axis.hi = std::ceil(max / step - 1e-9) * step;
  for (double t = axis.lo; t <= axis.hi + step * 1e-6; t += step) {
    axis.ticks.push_back(t);
    axis.labels.push_back(TickLabel(t, step));
  }
  return axis;
}

struct Series {
  std::string name;
  const char* color;
  bool dashed;
  std::vector<std::pair<int, double>> points;  // (epoch from 1, value)
};

void AppendPanel(std::string& svg, double top, const std::string& quantity,
                 const std::vector<Series>& series, int epochs) {
  const double x0 = kLeft, x1 = kWidth - kRight, y0 = top + kTop, y1 = top + kPanelHeight - kBottom;
  double min = INFINITY, max = -INFINITY;
  for (const Series& s : series) {
    for (auto [e, v] : s.points) {
      min = std::min(min, v);
      max = std::max(max, v);
    }
  }
  if (!(min <= max)) min = 0, max = 1;
  const Axis y = ValueAxis(min, max, quantity == "loss");
  const double x_lo = epochs > 1 ? 1 : 0, x_hi = epochs > 1 ? epochs : 2;
  auto px = [&](double e) { return x0 + (e - x_lo) / (x_hi - x_lo) * (x1 - x0); };
  auto py = [&](double v) {
    const double u = y.log ? std::log10(v) : v;
    return y1 - (u - y.lo) / (y.hi - y.lo) * (y1 - y0);
  };
  auto py_axis = [&](double u) { return y1 - (u - y.lo) / (y.hi - y.lo) * (y1 - y0); };

  absl::StrAppendFormat(&svg, "<g class=\"panel\" id=\"panel-%s\">\n", Escape(quantity));
  // Grid and value ticks.
  for (size_t i = 0; i < y.ticks.size(); ++i) {
    const double ty = py_axis(y.ticks[i]);
    absl::StrAppendFormat(
        &svg,
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n"
        "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
        x0, ty, x1, ty, x0 - 5, ty, x0, ty, x0 - 8, ty + 4, Escape(y.labels[i]));
  }
  // Epoch ticks: integers, about eight of them.
  const int step = std::max(1, static_cast<int>(NiceStep(std::max(1.0, epochs / 8.0))));
  for (int e = 1; e <= epochs; e = (e == 1 && step > 1) ? step : e + step) {
    const double tx = px(e);
    absl::StrAppendFormat(
        &svg,
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n"
        "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n",
        tx, y1, tx, y1 + 5, tx, y1 + 18, e);
  }
  absl::StrAppendFormat(&svg,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                        "stroke=\"#333\"/>\n",
                        x0, y0, x1 - x0, y1 - y0);
  // Axis labels.
  absl::StrAppendFormat(
      &svg, "<text class=\"xlabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">epoch</text>\n",
      (x0 + x1) / 2, y1 + 38);
  const double ly = (y0 + y1) / 2;
  absl::StrAppendFormat(&svg,
                        "<text class=\"ylabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                        "transform=\"rotate(-90 %.1f %.1f)\">%s%s</text>\n",
                        22.0, ly, 22.0, ly, Escape(quantity), y.log ? " (log scale)" : "");
  // Curves and legend.
  double legend_y = y0 + 12;
  for (const Series& s : series) {
    const char* dash = s.dashed ? " stroke-dasharray=\"6 4\"" : "";
    std::string points;
    for (auto [e, v] : s.points) absl::StrAppendFormat(&points, "%.1f,%.1f ", px(e), py(v));
    absl::StrAppendFormat(&svg,
                          "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" "
                          "stroke-width=\"2\"%s points=\"%s\"/>\n",
                          s.color, dash, points);
    // Markers show single epochs; over many they would only thicken the line.
    for (auto [e, v] : epochs <= kMaxMarkedEpochs ? s.points : decltype(s.points){}) {
      absl::StrAppendFormat(&svg, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px(e),
                            py(v), s.color);
    }
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                          "stroke-width=\"2\"%s/>\n"
                          "<text class=\"legend\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                          x1 + 12, legend_y, x1 + 40, legend_y, s.color, dash, x1 + 46,
                          legend_y + 4, Escape(s.name));
    legend_y += 20;
  }
  svg += "</g>\n";
}

}  // namespace

std::string HistorySvg(const History& history, const std::string& title) {
  // Quantities in the order the epochs' results first name them, "loss" first; "val_x" joins
  // "x". Every epoch counts: a resumed run may record one (lr) that earlier epochs lack.
  std::vector<std::string> quantities;
  if (!history.epochs.empty()) quantities.push_back("loss");
  for (const auto& epoch : history.epochs) {
    for (const auto& [name, value] : epoch) {
      if (name.starts_with("val_") ||
          std::find(quantities.begin(), quantities.end(), name) != quantities.end()) {
        continue;
      }
      quantities.push_back(name);
    }
  }
  const int epochs = static_cast<int>(history.epochs.size());
  const double height = kTitleHeight + kPanelHeight * std::max<size_t>(1, quantities.size());
  std::string svg = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text class=\"title\" x=\"%.1f\" y=\"26\" text-anchor=\"middle\" "
      "font-size=\"16\">%s</text>\n",
      kWidth, height, kWidth, height, kWidth / 2, Escape(title));
  for (size_t q = 0; q < quantities.size(); ++q) {
    std::vector<Series> series;
    for (const bool val : {false, true}) {
      const std::string name = val ? "val_" + quantities[q] : quantities[q];
      Series s{name, val ? kValColor : kTrainColor, val, {}};
      for (int e = 0; e < epochs; ++e) {
        auto it = history.epochs[e].find(name);
        if (it != history.epochs[e].end() && std::isfinite(it->second)) {
          s.points.emplace_back(e + 1, it->second);
        }
      }
      if (!s.points.empty()) series.push_back(std::move(s));
    }
    AppendPanel(svg, kTitleHeight + kPanelHeight * q, quantities[q], series, epochs);
  }
  svg += "</svg>\n";
  return svg;
}

absl::Status WriteHistorySvg(const History& history, const std::string& title,
                             const std::string& path) {
  const std::string svg = HistorySvg(history, title);
  return WriteFileAtomically(path, {svg});
}

}  // namespace rill::cli
