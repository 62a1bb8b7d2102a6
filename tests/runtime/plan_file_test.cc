// The compiled model file (runtime/plan_file.h) on a real plan (`rill compile` of a Keras
// two-layer GRU, made by the build): it decodes into the plan and weights it was made from,
// re-encodes to the same bytes, and every corruption — each byte flipped in turn, each
// truncation, bytes appended, another format version — is refused with one clear line.
#include "runtime/plan_file.h"
#include "tests/runtime/plan_file_testing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "kernels/register.h"
#include "rill/version.h"
#include "runtime/byte_io.h"
#include "runtime/kernel.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

using testing::AlignedCopy;

absl::StatusOr<LoadedPlan> Decode(const std::string& bytes) {
  return testing::DecodePlanBytes(bytes);
}

class PlanFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterCpuKernels();
    bytes_ = FileBytes(RILL_SMALL_PLAN);
    ASSERT_GT(bytes_.size(), 4096u) << RILL_SMALL_PLAN;
  }
  std::string bytes_;
};

TEST_F(PlanFileTest, DecodesTheCompiledPlanAndReencodesToTheSameBytes) {
  absl::StatusOr<LoadedPlan> loaded = Decode(bytes_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->header.rill_version, RILL_VERSION_STRING);
  EXPECT_EQ(loaded->header.device, DeviceKind::kCpu);
  ASSERT_EQ(loaded->header.inputs.size(), 1u);
  EXPECT_EQ(loaded->header.inputs[0].type.ToString(), "f32[4, 6, 3]");
  ASSERT_EQ(loaded->header.outputs.size(), 1u);
  EXPECT_FALSE(loaded->plan.steps.empty());
  for (const PlanStep& s : loaded->plan.steps) EXPECT_NE(s.fn, nullptr) << s.node_name;
  ParamStore params;
  for (auto& [name, value] : loaded->params) params.Set(name, value);
  absl::StatusOr<std::string> again = EncodePlanFile(loaded->plan, params);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(*again == bytes_);
}

// Every CPU kernel checks a step read from a file before it runs (the model suite's forgeries are
// in tests/tools/compiled_model_test.cc): a kernel added without its check fails here.
TEST_F(PlanFileTest, EveryCpuKernelChecksTheStepsReadFromFiles) {
  int kernels = 0;
  for (int i = 0; i < kNumOps; ++i) {
    const auto op = static_cast<OpKind>(i);
    const KernelDef* kernel = FindKernel(op, DeviceKind::kCpu);
    if (kernel == nullptr) continue;
    ++kernels;
    EXPECT_NE(kernel->check_loaded, nullptr) << OpName(op);
  }
  EXPECT_EQ(kernels, kNumOps);
}

// A hand-made layout whose buffers overlap while both are live (a gather's indices under its own
// output, say) is refused when the file is read: the arena check runs in every build.
TEST_F(PlanFileTest, AnArenaLayoutWhoseLiveBuffersOverlapIsRefusedWhenRead) {
  absl::StatusOr<LoadedPlan> good = Decode(bytes_);
  ASSERT_TRUE(good.ok()) << good.status();
  ParamStore params;
  for (auto& [name, value] : good->params) params.Set(name, value);
  Plan plan = good->plan;
  int moved = 0;
  for (PlanBuffer& b : plan.buffers) {
    if (b.kind != BufferKind::kArena) continue;
    b.offset = 0;
    ++moved;
  }
  ASSERT_GT(moved, 2);
  absl::StatusOr<std::string> forged = EncodePlanFile(plan, params);
  ASSERT_TRUE(forged.ok()) << forged.status();
  absl::StatusOr<LoadedPlan> loaded = Decode(*forged);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(loaded.status().message()),
              ::testing::StartsWith("plan file memory layout: "));
}

// A file whose checksums match can still have been made by hand: what the CPU GRU kernel reads
// from a step (its attributes, its buffers' types, packed weights of this rill's layout) is
// checked when the file is read, and each forgery is one error naming the step, before
// anything runs.
TEST_F(PlanFileTest, AGruStepThatIsNotWhatTheKernelReadsIsRefusedWhenRead) {
  absl::StatusOr<LoadedPlan> good = Decode(bytes_);
  ASSERT_TRUE(good.ok()) << good.status();
  ParamStore params;
  for (auto& [name, value] : good->params) params.Set(name, value);
  int gru = -1;
  for (size_t i = 0; i < good->plan.steps.size() && gru < 0; ++i) {
    if (good->plan.steps[i].op == OpKind::kCuDNNGRU) gru = static_cast<int>(i);
  }
  ASSERT_GE(gru, 0) << "the small plan has no cudnn_gru step";
  ASSERT_TRUE(good->plan.steps[gru].attrs.Has("cpu_gru_packed_weights"))
      << "the small plan's GRU weights are not packed";
  const std::string prefix = absl::StrCat("cudnn_gru '", good->plan.steps[gru].node_name, "': ");
  struct Forgery {
    const char* what;
    void (*forge)(Plan& plan, PlanStep& step);
    std::string error;
  };
  const Forgery forgeries[] = {
      {"no time_major",
       [](Plan&, PlanStep& s) {
         Attrs attrs;
         for (const auto& [name, value] : s.attrs.values()) {
           if (name != "time_major") attrs.Set(name, value);
         }
         s.attrs = attrs;
       },
       "no attribute 'time_major'"},
      {"go_backwards an int", [](Plan&, PlanStep& s) { s.attrs.Set("go_backwards", int64_t{1}); },
       "attribute 'go_backwards' is of kind int, the kernel reads kind bool"},
      {"another packed layout",
       [](Plan&, PlanStep& s) { s.attrs.Set("cpu_gru_packed_weights", int64_t{2}); },
       "packed in layout version 2, this rill reads version 1"},
      {"an unknown algorithm",
       [](Plan&, PlanStep& s) { s.attrs.Set("cpu_gru_algo", std::string("fastest")); },
       "cpu gru algorithm 'fastest' is not one of rill, onednn"},
      {"a smaller reserve",
       [](Plan& p, PlanStep& s) { p.buffers[s.outputs[2]].type.shape.dim(2) -= 1; },
       "reserve is f32["},
      {"h0 of other units",
       [](Plan& p, PlanStep& s) { p.buffers[s.inputs[1]].type.shape.dim(1) += 1; },
       "packed weights"},
      // (Found by the plan fuzz target: sizes computed from such units overflowed.)
      {"h0 of 2^40 units",
       [](Plan& p, PlanStep& s) { p.buffers[s.inputs[1]].type.shape.dim(1) = int64_t{1} << 40; },
       "units: the kernel reads at most 2^28"},
  };
  for (const Forgery& f : forgeries) {
    SCOPED_TRACE(f.what);
    Plan plan = good->plan;
    f.forge(plan, plan.steps[gru]);
    absl::StatusOr<std::string> forged = EncodePlanFile(plan, params);
    ASSERT_TRUE(forged.ok()) << forged.status();
    absl::StatusOr<LoadedPlan> loaded = Decode(*forged);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(loaded.status().message()), ::testing::StartsWith(prefix));
    EXPECT_THAT(loaded.status().message(), HasSubstr(f.error));
  }
}

// The math a CUDA plan's steps were prepared for (TF32 or FP32 strict) is part of the plan: a
// session for a plan read from a file takes it from there.
TEST_F(PlanFileTest, TheMathThePlanWasPreparedForSurvivesTheFile) {
  absl::StatusOr<LoadedPlan> loaded = Decode(bytes_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_FALSE(loaded->plan.tf32);  // compiled for the CPU
  ParamStore params;
  for (auto& [name, value] : loaded->params) params.Set(name, value);
  loaded->plan.tf32 = true;
  absl::StatusOr<std::string> tf32 = EncodePlanFile(loaded->plan, params);
  ASSERT_TRUE(tf32.ok()) << tf32.status();
  EXPECT_NE(*tf32, bytes_);
  absl::StatusOr<LoadedPlan> again = Decode(*tf32);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->plan.tf32);
}

TEST_F(PlanFileTest, WeightsAreUsedInPlaceAndAligned) {
  std::shared_ptr<std::byte> data = AlignedCopy(bytes_);
  absl::StatusOr<LoadedPlan> loaded = DecodePlanFile(data, bytes_.size());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_FALSE(loaded->params.empty());
  for (const auto& [name, value] : loaded->params) {
    const auto* p = static_cast<const std::byte*>(value.raw());
    EXPECT_TRUE(p >= data.get() && p + value.bytes() <= data.get() + bytes_.size()) << name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kPlanTensorAlignment, 0u) << name;
  }
}

void ExpectOneLineRefusal(const absl::StatusOr<LoadedPlan>& loaded, const std::string& what) {
  ASSERT_FALSE(loaded.ok()) << what << " was accepted";
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << what;
  const std::string message(loaded.status().message());
  EXPECT_THAT(message, HasSubstr("plan file")) << what;
  EXPECT_EQ(message.find('\n'), std::string::npos) << what << ": " << message;
}

TEST_F(PlanFileTest, EveryFlippedByteIsRefused) {
  for (size_t i = 0; i < bytes_.size(); ++i) {
    std::string bad = bytes_;
    bad[i] = static_cast<char>(bad[i] ^ 0xff);
    ExpectOneLineRefusal(Decode(bad), "byte " + std::to_string(i) + " flipped");
    if (HasFatalFailure()) return;
  }
}

TEST_F(PlanFileTest, EveryTruncationIsRefused) {
  for (size_t n = 0; n < bytes_.size(); ++n) {
    ExpectOneLineRefusal(Decode(bytes_.substr(0, n)), "truncated to " + std::to_string(n));
    if (HasFatalFailure()) return;
  }
}

TEST_F(PlanFileTest, BytesAfterTheEndAreRefused) {
  absl::StatusOr<LoadedPlan> loaded = Decode(bytes_ + std::string(100, '\0'));
  ExpectOneLineRefusal(loaded, "100 bytes appended");
  EXPECT_THAT(loaded.status().message(), HasSubstr("100 bytes after its end"));
}

TEST_F(PlanFileTest, AnotherFormatVersionIsRefusedNamingBoth) {
  // Version 2 with a preamble whose checksum is right: the version alone is what is refused.
  std::string other = bytes_;
  ByteWriter version;
  version.U32(kPlanFormatVersion + 1);
  other.replace(8, 4, version.bytes());
  ByteWriter crc;
  crc.U32(static_cast<uint32_t>(crc32_z(0, reinterpret_cast<const Bytef*>(other.data()), 28)));
  other.replace(28, 4, crc.bytes());
  absl::StatusOr<LoadedPlan> loaded = Decode(other);
  ExpectOneLineRefusal(loaded, "version 2");
  EXPECT_THAT(loaded.status().message(),
              HasSubstr("format version " + std::to_string(kPlanFormatVersion + 1)));
  EXPECT_THAT(loaded.status().message(),
              HasSubstr("reads format version " + std::to_string(kPlanFormatVersion)));
}

TEST_F(PlanFileTest, ReadingAFileNamesItAndMissingFilesAreNotFound) {
  absl::StatusOr<LoadedPlan> loaded = ReadPlanFile(RILL_SMALL_PLAN);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  absl::StatusOr<LoadedPlan> missing = ReadPlanFile("/nonexistent/m.rillc");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/m.rillc"));
}

// An executable's payload: the plan after the program and the module after the plan, each on
// a page boundary, found through the trailer; a trailer whose numbers do not fit the file is
// refused naming it, and a file without one holds nothing.
TEST(EmbeddedPayloadTest, ThePlanAndTheModuleAreFoundAndABadTrailerIsRefused) {
  const std::string dir = ::testing::TempDir() + "/embedded_payload";
  std::filesystem::create_directories(dir);
  const std::string program(5000, 'x'), plan(3000, 'p'), module(7000, 'm');
  const std::string with_module = dir + "/with", without = dir + "/without";
  ASSERT_TRUE(WriteExecutableWithPlan(with_module, program, plan, module).ok());
  ASSERT_TRUE(WriteExecutableWithPlan(without, program, plan).ok());

  absl::StatusOr<EmbeddedPayload> p = FindEmbeddedPayload(with_module);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->plan.offset, 8192u);
  EXPECT_EQ(p->plan.size, 3000u);
  EXPECT_EQ(p->module.offset, 12288u);  // 8192 + 3000, rounded up to a page
  EXPECT_EQ(p->module.size, 7000u);
  EXPECT_EQ(p->module_crc, static_cast<uint32_t>(crc32(
                               0, reinterpret_cast<const Bytef*>(module.data()), module.size())));
  const std::string bytes = FileBytes(with_module);
  ASSERT_EQ(bytes.size(), 12288u + 7000u + kEmbeddedTrailerBytes);
  EXPECT_EQ(bytes.substr(0, 5000), program);
  EXPECT_EQ(bytes.substr(8192, 3000), plan);
  EXPECT_EQ(bytes.substr(12288, 7000), module);
  p = FindEmbeddedPayload(without);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->plan.offset, 8192u);
  EXPECT_EQ(p->plan.size, 3000u);
  EXPECT_EQ(p->module.size, 0u);
  p = FindEmbeddedPayload(dir + "/../embedded_payload/with");  // any path to it
  EXPECT_TRUE(p.ok());

  // Each of the trailer's four offsets and sizes moved by a page either way or far beyond the
  // file: refused. (A plan size moved within the padding passes here; the plan's own preamble,
  // which holds its size, refuses it when it is decoded.)
  const size_t trailer = bytes.size() - kEmbeddedTrailerBytes;
  for (size_t field = 0; field < 4; ++field) {
    for (uint64_t delta : {uint64_t{4096}, uint64_t{0} - 4096, uint64_t{1} << 40}) {
      std::string bad = bytes;
      uint64_t value;
      std::memcpy(&value, bad.data() + trailer + 8 * field, 8);
      value += delta;
      std::memcpy(bad.data() + trailer + 8 * field, &value, 8);
      const std::string path = dir + "/bad";
      std::ofstream(path, std::ios::binary) << bad;
      p = FindEmbeddedPayload(path);
      ASSERT_FALSE(p.ok()) << "field " << field << " + " << delta;
      EXPECT_THAT(p.status().message(), HasSubstr(path + ": the embedded plan's"));
    }
  }
  std::string bad = bytes;
  bad[trailer + 36] = 1;  // the zero word
  std::ofstream(dir + "/bad", std::ios::binary) << bad;
  EXPECT_FALSE(FindEmbeddedPayload(dir + "/bad").ok());
  // No trailer (a plain program, or one shorter than a trailer): nothing inside.
  std::ofstream(dir + "/plain", std::ios::binary) << program;
  p = FindEmbeddedPayload(dir + "/plain");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->plan.size, 0u);
  std::ofstream(dir + "/tiny", std::ios::binary) << "RILLEXE2";
  p = FindEmbeddedPayload(dir + "/tiny");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->plan.size, 0u);
  std::filesystem::remove_all(dir);
}

TEST(ByteReaderTest, ACountLargerThanTheBytesLeftFailsBeforeAnythingIsAllocated) {
  ByteWriter w;
  w.U32(0xffffffffu);
  w.U64(7);
  ByteReader r(reinterpret_cast<const std::byte*>(w.bytes().data()), w.bytes().size());
  EXPECT_EQ(r.Count(1), 0u);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.error(), HasSubstr("4294967295 records"));
}

TEST(ByteReaderTest, AShapeWhoseSizeOverflowsIsRefused) {
  ByteWriter w;
  w.Type(TensorType{DType::kF32, Shape{int64_t{1} << 40, int64_t{1} << 40}});
  ByteReader r(reinterpret_cast<const std::byte*>(w.bytes().data()), w.bytes().size());
  r.Type();
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace rill
