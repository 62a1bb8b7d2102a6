// The IR text form's lexical layer (ir/parser.cc reads the grammar on top of it): characters,
// names, integers, attribute literals and their conversion to attribute values, with the
// error messages that point at a line and column.
#pragma once

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ir/attr.h"

namespace rill::ir_text {

inline bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' ||
         c == '-';
}
inline bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
inline bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// An attribute value as written. Its kind is only what the syntax shows; the AttrKind is
// decided afterwards (an int literal is a fine float, an identifier may be a dtype).
struct Literal {
  enum class Kind { kInt, kFloat, kBool, kString, kIdent, kList };
  Kind kind = Kind::kInt;
  size_t pos = 0;
  std::string_view source;  // the literal's text as written
  std::string str;          // kString: the contents, unescaped
  std::vector<Literal> elements;
};

class TextReader {
 protected:
  explicit TextReader(std::string_view text) : text_(text) {}

  // Inside a statement only spaces, tabs and a comment ('#' or '//' to the end of the line)
  // are skipped; the newline ends the statement.
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  void SkipSpace();
  void SkipBlankLines();
  bool TryChar(char c);
  bool TryKeyword(std::string_view keyword);
  absl::Status ExpectChar(char c);
  absl::Status ExpectEndOfLine();
  absl::StatusOr<std::string> ParseName(std::string_view what);
  absl::StatusOr<std::string> ParseIdent(std::string_view what);
  absl::StatusOr<int64_t> ParseInt(std::string_view digits, size_t pos);

  std::string Found() const;
  absl::Status ErrorAt(size_t pos, std::string_view message) const;
  absl::Status Expected(std::string_view what) const;

  // Attribute literals: read as written, then typed by the op's AttrSpec (Convert) or, in an
  // initializer's config, by how they look (Infer). `context` and `attr` name them in errors.
  absl::StatusOr<Literal> ParseLiteral();
  absl::StatusOr<AttrValue> Convert(const Literal& lit, AttrKind kind, std::string_view context,
                                    const std::string& attr);
  absl::StatusOr<AttrValue> Infer(const Literal& lit, std::string_view context,
                                  const std::string& attr);

  std::string_view text_;
  size_t pos_ = 0;

 private:
  absl::Status ParseStringLiteral(Literal& lit);
};

}  // namespace rill::ir_text
