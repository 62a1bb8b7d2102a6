// ParamStore's coherence with device copies (param_store.h), with a fake device: versions,
// the lazy download before host reads, failures kept instead of crashing, two devices, and
// the CPU executor's choice of written parameters.
#include "runtime/param_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/executor.h"
#include "tests/runtime/plan_builder.h"

namespace rill {
namespace {

// Holds "device" values per name; CopyToHost writes them into the store.
class FakeDevice : public ParamDeviceCopies {
 public:
  absl::Status CopyToHost(ParamStore& store) override {
    ++downloads;
    if (!fail.ok()) return fail;
    for (const auto& [name, value] : values)
      store.HostTensorForSync(name)->data<float>()[0] = value;
    return absl::OkStatus();
  }
  std::map<std::string, float> values;
  absl::Status fail;
  int downloads = 0;
};

Tensor Scalar(float v) { return Tensor::FromVector(std::vector<float>{v}, Shape{1}); }

TEST(ParamStore, VersionsChangeOnEveryHostWrite) {
  ParamStore store;
  EXPECT_EQ(store.version("w"), 0u);
  store.Set("w", Scalar(1));
  const uint64_t v1 = store.version("w");
  EXPECT_GT(v1, 0u);
  const ParamStore& cstore = store;
  EXPECT_EQ(cstore.Find("w")->at(0), 1.0);
  EXPECT_EQ(store.version("w"), v1);  // a const read writes nothing
  store.Find("w");
  const uint64_t v2 = store.version("w");
  EXPECT_GT(v2, v1);
  store.MarkWritten("w");
  EXPECT_GT(store.version("w"), v2);
  store.MarkWritten("unknown");
  EXPECT_EQ(store.version("unknown"), 0u);
}

TEST(ParamStore, HostReadsDownloadTheDevicesNewerValuesOnce) {
  ParamStore store;
  store.Set("w", Scalar(1));
  FakeDevice device;
  store.Attach(&device);
  EXPECT_TRUE(store.has_devices());
  device.values["w"] = 5;
  ASSERT_TRUE(store.MarkDeviceNewer(&device).ok());
  EXPECT_FALSE(store.host_current());
  EXPECT_EQ(device.downloads, 0);  // lazy
  const ParamStore& cstore = store;
  EXPECT_EQ(cstore.Find("w")->at(0), 5.0);
  EXPECT_EQ(device.downloads, 1);
  EXPECT_TRUE(store.host_current());
  EXPECT_EQ(store.tensors().at("w").at(0), 5.0);
  EXPECT_EQ(device.downloads, 1);
  store.Detach(&device);
  EXPECT_FALSE(store.has_devices());
}

TEST(ParamStore, SetAfterADeviceRunDownloadsFirstSoTheHostValueWins) {
  ParamStore store;
  store.Set("w", Scalar(1));
  FakeDevice device;
  store.Attach(&device);
  device.values["w"] = 5;
  ASSERT_TRUE(store.MarkDeviceNewer(&device).ok());
  store.Set("w", Scalar(7));
  EXPECT_EQ(device.downloads, 1);
  EXPECT_EQ(store.Find("w")->at(0), 7.0);
  store.Detach(&device);
}

TEST(ParamStore, AFailedDownloadIsKeptAndReturnedNotACrash) {
  ParamStore store;
  store.Set("w", Scalar(1));
  FakeDevice device;
  store.Attach(&device);
  device.fail = absl::InternalError("device lost");
  ASSERT_TRUE(store.MarkDeviceNewer(&device).ok());
  EXPECT_EQ(store.SyncToHost().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(store.sync_status().message(), "device lost");
  EXPECT_FALSE(store.host_current());
  device.fail = absl::OkStatus();
  device.values["w"] = 3;
  EXPECT_TRUE(store.SyncToHost().ok());
  EXPECT_TRUE(store.sync_status().ok());
  EXPECT_EQ(store.Find("w")->at(0), 3.0);
  store.Detach(&device);
}

TEST(ParamStore, AnotherDevicesNewerValuesAreDownloadedBeforeItTakesOver) {
  ParamStore store;
  store.Set("w", Scalar(1));
  FakeDevice a, b;
  store.Attach(&a);
  store.Attach(&b);
  a.values["w"] = 2;
  ASSERT_TRUE(store.MarkDeviceNewer(&a).ok());
  ASSERT_TRUE(store.MarkDeviceNewer(&b).ok());
  EXPECT_EQ(a.downloads, 1);
  EXPECT_EQ(store.newer_device(), &b);
  b.values["w"] = 9;
  // Detaching the newer device hands its values back.
  store.Detach(&b);
  EXPECT_EQ(b.downloads, 1);
  EXPECT_TRUE(store.host_current());
  EXPECT_EQ(store.Find("w")->at(0), 9.0);
  store.Detach(&a);
}

TEST(WrittenParamBuffers, OutputsAndInputsWrittenBySideEffects) {
  Plan plan = testing::PlanBuilder()
                  .Param("w", 4)
                  .Param("m", 4)
                  .Param("read_only", 4)
                  .Param("state", 4)
                  .Arena("g", 4)
                  .Step(OpKind::kTanh, "grad", {"read_only"}, {"g"})
                  .Step(OpKind::kSgdUpdate, "update", {"w", "g", "m"}, {})
                  .Step(OpKind::kTanh, "assign", {"g"}, {"state"})
                  .Build();
  std::vector<std::string> names;
  for (int i : WrittenParamBuffers(plan)) names.push_back(plan.buffers[i].name);
  EXPECT_THAT(names, ::testing::ElementsAre("w", "m", "state"));
}

}  // namespace
}  // namespace rill
