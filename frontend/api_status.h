// The C++ API's error model: every public function reports errors as an absl::Status and
// never throws. What a dependency throws (nlohmann::json, std::filesystem, the standard
// library, an allocation) is caught at the API boundary and turned into a Status here.
#pragma once

#include <exception>
#include <filesystem>
#include <new>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace rill {

// The Status for the exception being handled; call only inside a catch block. `where` names
// the API function ("Model::Predict"). Out of memory is ResourceExhausted; a file-system error
// is InvalidArgument naming the path; anything else is Internal with the exception's text.
inline absl::Status CurrentExceptionStatus(const std::string& where) {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(where, ": out of memory"));
  } catch (const std::filesystem::filesystem_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(where, ": unexpected error: ", e.what()));
  } catch (...) {
    return absl::InternalError(absl::StrCat(where, ": unexpected error"));
  }
}

}  // namespace rill
