// Model::Summary: Keras's model.summary() table, column for column (tf-keras 2.x).
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "frontend/layer.h"
#include "frontend/model.h"

namespace rill {
namespace {

std::string ShapeForSummary(const Shape& s) {
  std::string out = "(";
  for (int i = 0; i < s.rank(); ++i) {
    absl::StrAppend(&out, i ? ", " : "",
                    s.dim(i) == kUnknownDim ? "None" : std::to_string(s.dim(i)));
  }
  if (s.rank() == 1) out += ",";
  return out + ")";
}

// One row of Keras's summary table (tf-keras's print_row): each field is cut to its column
// (less two spaces before the next column and one more to align), at the first "),", "},",
// "],", "'," in that part when there is one, and the rest continues on the following lines.
void AppendSummaryRow(std::string& out, std::vector<std::string> fields,
                      const std::vector<size_t>& positions) {
  auto pending = [&] {
    return std::any_of(fields.begin(), fields.end(), [](const auto& f) { return !f.empty(); });
  };
  while (pending()) {
    std::string line;
    for (size_t col = 0; col < fields.size(); ++col) {
      const bool last = col + 1 == positions.size();
      const size_t space = last ? 0 : 2;
      const size_t start = col == 0 ? 0 : positions[col - 1];
      size_t cutoff = positions[col] - start - space - (last ? 0 : 1);
      std::string fit = fields[col].substr(0, cutoff);
      size_t at_break = std::string::npos;
      for (const char* mark : {"),", "},", "],", "',"}) {
        if (size_t at = fit.find(mark); at != std::string::npos)
          at_break = std::min(at_break, at + 2);
      }
      if (at_break != std::string::npos) {
        cutoff = at_break;
        fit.resize(cutoff);
      }
      if (col == 0) line += " ";
      absl::StrAppend(&line, fit, std::string(space, ' '));
      fields[col] = cutoff < fields[col].size() ? fields[col].substr(cutoff) : "";
      if (line.size() < positions[col]) line.append(positions[col] - line.size(), ' ');
    }
    absl::StrAppend(&out, line, "\n");
  }
}

// Keras's readable_memory_size: "472.00 Byte", "1.50 KB", ... (units of 1024).
std::string ReadableBytes(int64_t bytes) {
  double size = static_cast<double>(bytes);
  const char* units[] = {"Byte", "KB", "MB", "GB", "TB", "PB"};
  for (const char* unit : units) {
    if (size / 1024 < 1) return absl::StrFormat("%.2f %s", size, unit);
    size /= 1024;
  }
  return absl::StrFormat("%.2f PB", size);
}

// Keras shows a functional model that is a chain (one input, each layer called once on one
// tensor, no tensor used twice) as it shows a Sequential one; other graphs get a wider table
// with what each layer is connected to.
bool IsChain(const std::vector<SymbolicTensor>& inputs,
             const std::vector<std::shared_ptr<Layer>>& layers) {
  if (inputs.size() != 1) return false;
  std::set<std::string> used;
  for (const auto& layer : layers) {
    if (layer->calls() != 1 || layer->inbound().size() != 1) return false;
    if (!used.insert(layer->inbound()[0]).second) return false;
  }
  return true;
}

}  // namespace

std::string Model::Summary() const {
  // tf-keras 2.x's column ends: 65 columns for a chain, 98 with "Connected to".
  const bool connections = !sequential_ && !IsChain(inputs_, layers_);
  const std::vector<size_t> positions =
      connections ? std::vector<size_t>{29, 58, 68, 98} : std::vector<size_t>{29, 55, 65};
  const std::string rule(positions.back(), '_');
  const std::string double_rule(positions.back(), '=');
  const std::string blank(positions.back(), ' ');
  std::string out = absl::StrCat("Model: \"", name_, "\"\n", rule, "\n");
  std::vector<std::string> header = {"Layer (type)", "Output Shape", "Param #"};
  if (connections) header.push_back("Connected to");
  AppendSummaryRow(out, header, positions);
  absl::StrAppend(&out, double_rule, "\n");
  // A Sequential model's table has no InputLayer row; a functional model's has.
  if (!sequential_) {
    for (const SymbolicTensor& in : inputs_) {
      std::vector<std::string> row = {absl::StrCat(in.layer, " (InputLayer)"),
                                      absl::StrCat("[", ShapeForSummary(in.shape()), "]"), "0"};
      if (connections) row.push_back("[]");
      AppendSummaryRow(out, row, positions);
      absl::StrAppend(&out, blank, "\n");
    }
  }
  for (const auto& layer : layers_) {
    int64_t count = 0;
    for (const Value* w : layer->weights()) count += w->type.shape.NumElements();
    std::string shape;
    const auto& shapes = layer->output_shapes();
    if (shapes.size() == 1) {
      shape = ShapeForSummary(shapes[0]);
    } else {
      shape = "[";
      for (size_t i = 0; i < shapes.size(); ++i)
        absl::StrAppend(&shape, i ? ", " : "", ShapeForSummary(shapes[i]));
      shape += "]";
    }
    std::vector<std::string> row = {absl::StrCat(layer->name(), " (", layer->class_name(), ")"),
                                    shape, absl::StrCat(count)};
    if (connections) {
      std::string from;
      for (const std::string& t : layer->inbound())
        absl::StrAppend(&from, from.empty() ? "" : ", ", "'", t, "'");
      row.push_back(absl::StrCat("[", from, "]"));
    }
    AppendSummaryRow(out, row, positions);
    absl::StrAppend(&out, blank, "\n");
  }
  int64_t total = 0, trainable = 0, total_bytes = 0, trainable_bytes = 0;
  for (const WeightInfo& w : Weights()) {
    const int64_t n = w.type.shape.NumElements();
    const int64_t bytes = n * DTypeSize(w.type.dtype);
    total += n;
    total_bytes += bytes;
    if (w.trainable) trainable += n, trainable_bytes += bytes;
  }
  absl::StrAppend(&out, double_rule, "\n", "Total params: ", total, " (",
                  ReadableBytes(total_bytes), ")\nTrainable params: ", trainable, " (",
                  ReadableBytes(trainable_bytes), ")\nNon-trainable params: ", total - trainable,
                  " (", ReadableBytes(total_bytes - trainable_bytes), ")\n", rule, "\n");
  return out;
}

}  // namespace rill
