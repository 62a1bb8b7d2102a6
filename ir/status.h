// Status helpers, written once for the whole project: Debian's abseil 20220623 has no status
// macros and no absl/log. Everything a user, a file or a device can cause is an absl::Status.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RILL_CONCAT_INNER_(a, b) a##b
#define RILL_CONCAT_(a, b) RILL_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define RILL_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::absl::Status rill_status_ = (expr);        \
    if (!rill_status_.ok()) return rill_status_; \
  } while (0)

// `lhs = value of expr` (an absl::StatusOr<T>), or returns its status from the enclosing function.
#define RILL_ASSIGN_OR_RETURN(lhs, expr) \
  RILL_ASSIGN_OR_RETURN_IMPL_(RILL_CONCAT_(rill_statusor_, __LINE__), lhs, expr)
#define RILL_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

// An internal invariant (our bug, never a user's): prints and aborts when false.
#define RILL_CHECK(cond)                                                                     \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: internal check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

namespace rill {

// Prefixes a non-OK status's message with `context: `, keeping its code and payloads.
absl::Status Annotate(const absl::Status& status, std::string_view context);

// An error about one sample of a batch (a row of a kernel's input: "the mask of sample 3 has a
// hole") carries that row, so that whoever made the batch can name the sample in its data.
absl::Status WithBatchRow(absl::Status status, int64_t row);
// The row an error carries, or -1.
int64_t BatchRowOf(const absl::Status& status);
// An error that carries a row of a batch made of the data's rows `rows`, with the sample's row
// in the data appended: "... (sample 3 of the batch is sample 9 of the data)". Other errors as
// they are.
absl::Status NameDataSample(const absl::Status& status, const std::vector<int64_t>& rows);

}  // namespace rill
