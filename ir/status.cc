#include "ir/status.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace rill {
namespace {

constexpr char kBatchRowPayload[] = "rill/batch_row";

}  // namespace

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  absl::Status out(status.code(), absl::StrCat(absl::string_view(context.data(), context.size()),
                                               ": ", status.message()));
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

absl::Status WithBatchRow(absl::Status status, int64_t row) {
  if (!status.ok()) status.SetPayload(kBatchRowPayload, absl::Cord(absl::StrCat(row)));
  return status;
}

int64_t BatchRowOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kBatchRowPayload);  // absl::optional
  int64_t row = -1;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &row)) return -1;
  return row;
}

absl::Status NameDataSample(const absl::Status& status, const std::vector<int64_t>& rows) {
  const int64_t row = BatchRowOf(status);
  if (row < 0 || row >= static_cast<int64_t>(rows.size())) return status;
  return absl::Status(status.code(),
                      absl::StrCat(status.message(), " (sample ", row, " of the batch is sample ",
                                   rows[row], " of the data)"));
}

}  // namespace rill
