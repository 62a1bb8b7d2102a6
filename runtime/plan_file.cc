// The compiled model file's container: preamble, section table, checksums, the header and
// parameter sections, and the mapping of a file (plan_file.h; the plan itself: plan_codec.h).
#include "runtime/plan_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "rill/version.h"
#include "runtime/byte_io.h"
#include "runtime/device_backend.h"
#include "runtime/input_file.h"
#include "runtime/memory_check.h"
#include "runtime/output_path.h"
#include "runtime/plan_codec.h"

namespace rill {
namespace {

enum SectionId : uint32_t { kHeader = 1, kPlan = 2, kParamIndex = 3, kParamData = 4 };
constexpr uint32_t kNumSections = 4;
constexpr size_t kPreambleBytes = 32;
constexpr size_t kTableEntryBytes = 24;

absl::Status Bad(const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("plan file ", why));
}

void EncodeTypes(const std::vector<NamedType>& v, ByteWriter& out) {
  out.U32(static_cast<uint32_t>(v.size()));
  for (const NamedType& t : v) {
    out.Str(t.name);
    out.Type(t.type);
  }
}

std::vector<NamedType> DecodeTypes(ByteReader& in) {
  std::vector<NamedType> v(in.Count(4 + 5));
  for (NamedType& t : v) {
    t.name = in.Str();
    t.type = in.Type();
  }
  return v;
}

std::vector<NamedType> BufferTypes(const Plan& plan, const std::vector<int>& indices) {
  std::vector<NamedType> out;
  for (int i : indices) out.push_back({plan.buffers[i].name, plan.buffers[i].type});
  return out;
}

struct Section {
  uint32_t id = 0;
  uint32_t crc = 0;
  uint64_t offset = 0;
  uint64_t bytes = 0;
};

// The preamble's checks up to the section table; the sections' bounds and checksums.
absl::StatusOr<std::vector<Section>> CheckContainer(const std::byte* data, size_t size) {
  if (size < sizeof(kPlanMagic) || std::memcmp(data, kPlanMagic, sizeof(kPlanMagic)) != 0)
    return Bad("not recognized: it does not start with \"RILLPLAN\" (not a compiled rill model)");
  ByteReader pre(data, std::min(size, kPreambleBytes));
  for (size_t i = 0; i < sizeof(kPlanMagic); ++i) pre.U8();
  const uint32_t version = pre.U32();
  if (!pre.ok()) return Bad(absl::StrCat("truncated: ", size, " bytes"));
  if (version != kPlanFormatVersion) {
    return Bad(absl::StrCat("format version ", version, ": this rill (", RILL_VERSION_STRING,
                            ") reads format version ", kPlanFormatVersion,
                            "; compile the model again with it"));
  }
  const uint32_t count = pre.U32();
  const uint64_t file_bytes = pre.U64();
  const uint32_t table_crc = pre.U32();
  const uint32_t preamble_crc = pre.U32();
  if (!pre.ok()) return Bad(absl::StrCat("truncated: ", size, " bytes"));
  if (Crc32(data, kPreambleBytes - 4) != preamble_crc) return Bad("preamble checksum mismatch");
  if (file_bytes != size) {
    return Bad(file_bytes > size
                   ? absl::StrCat("truncated: ", size, " bytes, its preamble says ", file_bytes)
                   : absl::StrCat("has ", size - file_bytes, " bytes after its end (", file_bytes,
                                  " bytes)"));
  }
  if (count != kNumSections)
    return Bad(absl::StrCat("has ", count, " sections, format ", version, " has ", kNumSections));
  const size_t table_end = kPreambleBytes + count * kTableEntryBytes;
  if (table_end > size) return Bad(absl::StrCat("truncated: ", size, " bytes"));
  if (Crc32(data + kPreambleBytes, count * kTableEntryBytes) != table_crc)
    return Bad("section table checksum mismatch");
  ByteReader table(data + kPreambleBytes, count * kTableEntryBytes);
  std::vector<Section> sections(count);
  uint64_t end = table_end;
  for (uint32_t i = 0; i < count; ++i) {
    Section& s = sections[i];
    s.id = table.U32();
    s.crc = table.U32();
    s.offset = table.U64();
    s.bytes = table.U64();
    if (s.id != i + 1) return Bad(absl::StrCat("section ", i, " has id ", s.id));
    if (s.offset < end || s.offset > size || s.bytes > size - s.offset) {
      return Bad(absl::StrCat("section ", s.id, " at ", s.offset, " (", s.bytes,
                              " bytes) is outside the file or overlaps another"));
    }
    // Padding before a section is zero: every byte of the file is covered by a check.
    for (uint64_t b = end; b < s.offset; ++b) {
      if (data[b] != std::byte{0}) return Bad(absl::StrCat("nonzero padding at byte ", b));
    }
    if (Crc32(data + s.offset, s.bytes) != s.crc)
      return Bad(absl::StrCat("section ", s.id, " checksum mismatch"));
    end = s.offset + s.bytes;
  }
  if (end != size) return Bad(absl::StrCat("has ", size - end, " bytes after its last section"));
  return sections;
}

absl::StatusOr<PlanFileHeader> DecodeHeader(const std::byte* data, const Section& s) {
  ByteReader in(data + s.offset, s.bytes);
  PlanFileHeader h;
  h.rill_version = in.Str();
  const uint8_t device = in.U8();
  h.device = static_cast<DeviceKind>(device);
  h.arena_bytes = in.I64();
  h.inputs = DecodeTypes(in);
  h.outputs = DecodeTypes(in);
  if (in.ok() && device > static_cast<uint8_t>(DeviceKind::kCuda))
    in.Fail(absl::StrCat("unknown device code ", device));
  if (in.ok() && !in.at_end()) in.Fail("bytes after the header");
  if (!in.ok()) return Bad(absl::StrCat("header section ", in.error()));
  return h;
}

}  // namespace

absl::StatusOr<std::string> EncodePlanFile(const Plan& plan, const ParamStore& params) {
  if (plan.training)
    return absl::InvalidArgumentError("a training plan cannot be compiled to a file");
  ByteWriter header;
  header.Str(RILL_VERSION_STRING);
  header.U8(static_cast<uint8_t>(plan.device));
  header.I64(plan.arena_bytes);
  EncodeTypes(BufferTypes(plan, plan.inputs), header);
  EncodeTypes(BufferTypes(plan, plan.outputs), header);

  ByteWriter plan_bytes;
  EncodePlan(plan, plan_bytes);

  std::vector<const PlanBuffer*> stored;
  std::set<std::string> seen;
  for (const PlanBuffer& b : plan.buffers) {
    if (b.kind == BufferKind::kParam && seen.insert(b.name).second) stored.push_back(&b);
  }
  ByteWriter index, data;
  index.U32(static_cast<uint32_t>(stored.size()));
  for (const PlanBuffer* b : stored) {
    const Tensor* t = params.Find(b->name);
    if (t == nullptr || t->type() != b->type) {
      return absl::FailedPreconditionError(absl::StrCat(
          "parameter '", b->name, "' ", b->type.ToString(), ": ",
          t == nullptr ? "has no value" : absl::StrCat("its value is ", t->type().ToString())));
    }
    data.PadTo(kPlanTensorAlignment);
    index.Str(b->name);
    index.Type(b->type);
    index.U64(data.bytes().size());
    data.bytes().append(static_cast<const char*>(t->raw()), static_cast<size_t>(t->bytes()));
  }

  const std::string* bodies[kNumSections] = {&header.bytes(), &plan_bytes.bytes(), &index.bytes(),
                                             &data.bytes()};
  ByteWriter table;
  uint64_t offset = kPreambleBytes + kNumSections * kTableEntryBytes;
  std::vector<uint64_t> offsets;
  for (uint32_t i = 0; i < kNumSections; ++i) {
    if (i + 1 == kParamData) {
      offset = (offset + kPlanPageAlignment - 1) / kPlanPageAlignment * kPlanPageAlignment;
    }
    offsets.push_back(offset);
    table.U32(i + 1);
    table.U32(Crc32(bodies[i]->data(), bodies[i]->size()));
    table.U64(offset);
    table.U64(bodies[i]->size());
    offset += bodies[i]->size();
  }
  ByteWriter file;
  file.bytes().append(kPlanMagic, sizeof(kPlanMagic));
  file.U32(kPlanFormatVersion);
  file.U32(kNumSections);
  file.U64(offset);
  file.U32(Crc32(table.bytes().data(), table.bytes().size()));
  file.U32(Crc32(file.bytes().data(), file.bytes().size()));
  file.bytes() += table.bytes();
  for (uint32_t i = 0; i < kNumSections; ++i) {
    file.bytes().resize(offsets[i], '\0');
    file.bytes() += *bodies[i];
  }
  return std::move(file.bytes());
}

absl::Status WritePlanFile(const std::string& path, const Plan& plan, const ParamStore& params) {
  RILL_RETURN_IF_ERROR(CheckFileTarget(path));
  RILL_ASSIGN_OR_RETURN(const std::string bytes, EncodePlanFile(plan, params));
  return WriteFileAtomically(path, {bytes}, 0644);
}

namespace {
uint64_t PageAligned(uint64_t n) {
  return (n + kPlanPageAlignment - 1) / kPlanPageAlignment * kPlanPageAlignment;
}
}  // namespace

absl::Status WriteExecutableWithPlan(const std::string& path, const std::string& program,
                                     const std::string& plan, const std::string& module) {
  RILL_RETURN_IF_ERROR(CheckFileTarget(path));
  const std::string pad_program(PageAligned(program.size()) - program.size(), '\0');
  const uint64_t plan_offset = program.size() + pad_program.size();
  std::string pad_plan;
  uint64_t module_offset = 0;
  if (!module.empty()) {
    const uint64_t plan_end = plan_offset + plan.size();
    pad_plan.assign(PageAligned(plan_end) - plan_end, '\0');
    module_offset = plan_end + pad_plan.size();
  }
  ByteWriter trailer;
  trailer.U64(plan_offset);
  trailer.U64(plan.size());
  trailer.U64(module_offset);
  trailer.U64(module.size());
  trailer.U32(module.empty() ? 0 : Crc32(module.data(), module.size()));
  trailer.U32(0);
  trailer.bytes().append(kEmbeddedPlanMagic, sizeof(kEmbeddedPlanMagic));
  return WriteFileAtomically(path, {program, pad_program, plan, pad_plan, module, trailer.bytes()},
                             0755);
}

absl::StatusOr<EmbeddedPayload> FindEmbeddedPayload(const std::string& path) {
  RILL_ASSIGN_OR_RETURN(const RegularFile file, OpenRegularFile(path));
  std::byte trailer[kEmbeddedTrailerBytes];
  const bool read_ok =
      file.size >= static_cast<int64_t>(sizeof trailer) &&
      ::pread(file.fd, trailer, sizeof trailer, file.size - static_cast<off_t>(sizeof trailer)) ==
          static_cast<ssize_t>(sizeof trailer);
  ::close(file.fd);
  EmbeddedPayload out;
  if (!read_ok || std::memcmp(trailer + 40, kEmbeddedPlanMagic, 8) != 0) return out;
  ByteReader in(trailer, 40);
  out.plan = {in.U64(), in.U64()};
  out.module = {in.U64(), in.U64()};
  out.module_crc = in.U32();
  const uint32_t zero = in.U32();
  // Every offset and size checked before any is added to another (no wrap-around): the plan,
  // then the module, end to end up to the trailer.
  const uint64_t end = static_cast<uint64_t>(file.size) - sizeof trailer;
  const PlanLocation &plan = out.plan, &module = out.module;
  const uint64_t plan_end =
      plan.offset <= end && plan.size <= end - plan.offset ? plan.offset + plan.size : ~uint64_t{0};
  bool fits =
      zero == 0 && plan.size > 0 && plan.offset % kPlanPageAlignment == 0 && plan_end <= end;
  if (fits && module.size == 0) {
    fits = module.offset == 0 && out.module_crc == 0 && plan_end == end;
  } else if (fits) {
    fits = module.offset == PageAligned(plan_end) && module.offset <= end &&
           module.size == end - module.offset;
  }
  if (!fits) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the embedded plan's trailer does not fit the file"));
  }
  return out;
}

absl::StatusOr<LoadedPlan> DecodePlanFile(std::shared_ptr<std::byte> keep, size_t size) {
  const std::byte* data = keep.get();
  RILL_ASSIGN_OR_RETURN(std::vector<Section> sections, CheckContainer(data, size));
  LoadedPlan out;
  RILL_ASSIGN_OR_RETURN(out.header, DecodeHeader(data, sections[kHeader - 1]));
  // The plan's kernels are looked up below: a program may load their backend now.
  if (absl::Status st = EnsureDeviceBackend(out.header.device); !st.ok()) {
    const std::string device(DeviceName(out.header.device));
    return absl::FailedPreconditionError(absl::StrCat(
        "compiled for ", device, "; this program has no ", device, " backend: ", st.message()));
  }
  ByteReader plan_in(data + sections[kPlan - 1].offset, sections[kPlan - 1].bytes);
  RILL_ASSIGN_OR_RETURN(out.plan, DecodePlan(plan_in));
  if (!plan_in.at_end()) return Bad("plan section: bytes after the plan");
  const Plan& plan = out.plan;
  if (plan.training) return Bad("holds a training plan");
  // Its arena layout is proved safe from the steps alone, as the planner's own check does in
  // debug builds: here in every build, since the file may have been made by hand.
  if (absl::Status st = CheckPlanMemory(plan); !st.ok())
    return Bad(absl::StrCat("memory layout: ", st.message()));
  if (out.header.device != plan.device || out.header.arena_bytes != plan.arena_bytes ||
      out.header.inputs != BufferTypes(plan, plan.inputs) ||
      out.header.outputs != BufferTypes(plan, plan.outputs)) {
    return Bad("header does not match its plan");
  }

  const Section& data_section = sections[kParamData - 1];
  ByteReader index(data + sections[kParamIndex - 1].offset, sections[kParamIndex - 1].bytes);
  const size_t count = index.Count(4 + 5 + 8);
  std::map<std::string, size_t> where;
  for (size_t i = 0; i < count && index.ok(); ++i) {
    std::string name = index.Str();
    const TensorType type = index.Type();
    const uint64_t offset = index.U64();
    if (!index.ok()) break;
    const auto bytes = static_cast<uint64_t>(type.shape.NumElements() * DTypeSize(type.dtype));
    if (offset > data_section.bytes || bytes > data_section.bytes - offset) {
      index.Fail(absl::StrCat("parameter '", name, "' ", type.ToString(), " at ", offset,
                              " lies outside the ", data_section.bytes, " bytes of data"));
      break;
    }
    std::byte* at = keep.get() + data_section.offset + offset;
    if (reinterpret_cast<uintptr_t>(at) % kPlanTensorAlignment != 0) {
      index.Fail(
          absl::StrCat("parameter '", name, "' is not ", kPlanTensorAlignment, "-byte aligned"));
    } else if (!where.emplace(name, out.params.size()).second) {
      index.Fail(absl::StrCat("parameter '", name, "' appears twice"));
    } else {
      out.params.emplace_back(name, Tensor::Borrow(type, std::shared_ptr<std::byte>(keep, at)));
    }
  }
  if (index.ok() && !index.at_end()) index.Fail("bytes after the index");
  if (!index.ok()) return Bad(absl::StrCat("parameter index ", index.error()));
  for (const PlanBuffer& b : plan.buffers) {
    if (b.kind != BufferKind::kParam) continue;
    auto it = where.find(b.name);
    if (it == where.end()) return Bad(absl::StrCat("has no value for parameter '", b.name, "'"));
    if (out.params[it->second].second.type() != b.type) {
      return Bad(absl::StrCat("parameter '", b.name, "' is ",
                              out.params[it->second].second.type().ToString(), ", its plan needs ",
                              b.type.ToString()));
    }
  }
  return out;
}

absl::StatusOr<LoadedPlan> ReadPlanFile(const std::string& path, PlanLocation where) {
  const uint64_t offset = where.offset;
  auto fail = [&](const absl::Status& st) { return Annotate(st, path); };
  RILL_ASSIGN_OR_RETURN(const RegularFile file, OpenRegularFile(path));
  const int fd = file.fd;
  const auto file_size = static_cast<uint64_t>(file.size);
  if (offset > file_size || offset % kPlanPageAlignment != 0) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no plan at byte ", offset, " of ", file_size));
  }
  const size_t size = where.size == 0 ? file_size - offset : where.size;
  if (where.size > file_size - offset) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": no plan of ", where.size,
                                                   " bytes at byte ", offset, " of ", file_size));
  }
  if (size == 0) {
    ::close(fd);
    return fail(Bad("truncated: 0 bytes"));
  }
  // Private and writable: the plan may update its states in place; the file never changes.
  void* map =
      ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, static_cast<off_t>(offset));
  const int err = errno;
  ::close(fd);
  if (map == MAP_FAILED) return PathErrno(path, "cannot map", err);
  std::shared_ptr<std::byte> keep(static_cast<std::byte*>(map),
                                  [size](std::byte* p) { ::munmap(p, size); });
  absl::StatusOr<LoadedPlan> loaded = DecodePlanFile(std::move(keep), size);
  if (!loaded.ok()) return fail(loaded.status());
  return loaded;
}

}  // namespace rill
