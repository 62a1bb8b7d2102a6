// CUDA smoke tests, host-only (they run everywhere): status mapping, device discovery without a
// GPU, cuDNN GRU descriptor validation.
#include <cublas_api.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/cudnn_rnn.h"
#include "kernels/cuda/device.h"

namespace rill::gpu {
namespace {

using ::testing::HasSubstr;

TEST(CudaStatusTest, SuccessIsOk) {
  EXPECT_TRUE(FromCuda(cudaSuccess, "x").ok());
  EXPECT_TRUE(FromCublas(CUBLAS_STATUS_SUCCESS, "x").ok());
  EXPECT_TRUE(FromCudnn(CUDNN_STATUS_SUCCESS, "x").ok());
}

TEST(CudaStatusTest, NoDriverIsFailedPreconditionWithNameAndCode) {
  absl::Status s = FromCuda(cudaErrorInsufficientDriver, "cudaGetDeviceCount");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("cudaGetDeviceCount: "));
  EXPECT_THAT(std::string(s.message()), HasSubstr("(cudaErrorInsufficientDriver = 35)"));
}

TEST(CudaStatusTest, MapsLibraryCodes) {
  EXPECT_EQ(FromCuda(cudaErrorMemoryAllocation, "x").code(), absl::StatusCode::kResourceExhausted);
  absl::Status cublas = FromCublas(CUBLAS_STATUS_NOT_INITIALIZED, "cublasCreate");
  EXPECT_EQ(cublas.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(cublas.message()), HasSubstr("(CUBLAS_STATUS_NOT_INITIALIZED = 1)"));
  absl::Status cudnn = FromCudnn(CUDNN_STATUS_NOT_INITIALIZED, "cudnnCreate");
  EXPECT_EQ(cudnn.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(cudnn.message()), HasSubstr("(CUDNN_STATUS_NOT_INITIALIZED = 1001)"));
  EXPECT_EQ(FromCudnn(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "x").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FromCudnn(CUDNN_STATUS_NOT_SUPPORTED_SHAPE, "x").code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(FromCudnn(CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED, "x").code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(FromCudnn(CUDNN_STATUS_EXECUTION_FAILED, "x").code(), absl::StatusCode::kInternal);
}

TEST(CudaDeviceTest, CountAgreesWithAvailability) {
  // Must not crash or throw on a machine without a driver (the CPU-only CI machine).
  const int count = CudaDeviceCount();
  EXPECT_GE(count, 0);
  absl::Status available = CudaDeviceAvailable();
  EXPECT_EQ(available.ok(), count > 0) << available;
  if (!available.ok()) {
    EXPECT_EQ(available.code(), absl::StatusCode::kFailedPrecondition);
  }
}

TEST(CudnnGruDescriptorTest, CreatesKerasCuDNNGRUSettings) {
  absl::StatusOr<CudnnGruDescriptor> desc =
      CudnnGruDescriptor::Create({.input_size = 8, .hidden_size = 16, .num_layers = 2});
  ASSERT_TRUE(desc.ok()) << desc.status();

  cudnnRNNAlgo_t algo;
  cudnnRNNMode_t cell_mode;
  cudnnRNNBiasMode_t bias_mode;
  cudnnDirectionMode_t dir_mode;
  cudnnRNNInputMode_t input_mode;
  cudnnDataType_t data_type, math_prec;
  cudnnMathType_t math_type;
  int32_t input_size, hidden_size, proj_size, num_layers;
  cudnnDropoutDescriptor_t dropout;
  uint32_t aux_flags;
  ASSERT_EQ(cudnnGetRNNDescriptor_v8(desc->get(), &algo, &cell_mode, &bias_mode, &dir_mode,
                                     &input_mode, &data_type, &math_prec, &math_type, &input_size,
                                     &hidden_size, &proj_size, &num_layers, &dropout, &aux_flags),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(algo, CUDNN_RNN_ALGO_STANDARD);
  EXPECT_EQ(cell_mode, CUDNN_GRU);
  EXPECT_EQ(bias_mode, CUDNN_RNN_DOUBLE_BIAS);
  EXPECT_EQ(dir_mode, CUDNN_UNIDIRECTIONAL);
  EXPECT_EQ(input_mode, CUDNN_LINEAR_INPUT);
  EXPECT_EQ(data_type, CUDNN_DATA_FLOAT);
  EXPECT_EQ(math_prec, CUDNN_DATA_FLOAT);
  EXPECT_EQ(math_type, CUDNN_FMA_MATH);  // FP32 strict unless TF32 is asked for
  EXPECT_EQ(input_size, 8);
  EXPECT_EQ(hidden_size, 16);
  EXPECT_EQ(proj_size, 16);
  EXPECT_EQ(num_layers, 2);
  EXPECT_EQ(dropout, nullptr);
  EXPECT_EQ(aux_flags, CUDNN_RNN_PADDED_IO_ENABLED);

  // Moving transfers ownership: exactly one destroy, no double free (ASan would see it).
  CudnnGruDescriptor moved = *std::move(desc);
  EXPECT_NE(moved.get(), nullptr);
}

TEST(CudnnGruDescriptorTest, ZeroHiddenSizeIsClearError) {
  absl::StatusOr<CudnnGruDescriptor> desc =
      CudnnGruDescriptor::Create({.input_size = 8, .hidden_size = 0});
  ASSERT_FALSE(desc.ok());
  EXPECT_EQ(desc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(desc.status().message()),
              HasSubstr("cudnn gru descriptor (input_size 8, hidden_size 0, num_layers 1, algorithm standard): "
                        "invalid parameter (CUDNN_STATUS_BAD_PARAM"));
}

TEST(CudnnRnnDataDescriptorTest, CreatesBatchMajorPadded) {
  const std::vector<int> lengths = {5, 3, 1};
  absl::StatusOr<CudnnRnnDataDescriptor> desc =
      CudnnRnnDataDescriptor::Create(/*max_seq_length=*/5, /*batch_size=*/3,
                                     /*vector_size=*/8, lengths);
  ASSERT_TRUE(desc.ok()) << desc.status();

  cudnnDataType_t data_type;
  cudnnRNNDataLayout_t layout;
  int max_seq_length = 0, batch_size = 0, vector_size = 0;
  std::vector<int> read_lengths(3, 0);
  float fill = -1.0f;
  ASSERT_EQ(cudnnGetRNNDataDescriptor(desc->get(), &data_type, &layout, &max_seq_length,
                                      &batch_size, &vector_size, 3, read_lengths.data(), &fill),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(data_type, CUDNN_DATA_FLOAT);
  EXPECT_EQ(layout, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED);
  EXPECT_EQ(max_seq_length, 5);
  EXPECT_EQ(batch_size, 3);
  EXPECT_EQ(vector_size, 8);
  EXPECT_EQ(read_lengths, lengths);
  EXPECT_EQ(fill, 0.0f);
}

TEST(CudnnRnnDataDescriptorTest, RejectsBadLengths) {
  const std::vector<int> two = {4, 4};
  absl::StatusOr<CudnnRnnDataDescriptor> wrong_count = CudnnRnnDataDescriptor::Create(4, 3, 8, two);
  ASSERT_FALSE(wrong_count.ok());
  EXPECT_EQ(wrong_count.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong_count.status().message()),
              HasSubstr("2 sequence lengths for 3 samples"));

  const std::vector<int> too_long = {4, 9};
  absl::StatusOr<CudnnRnnDataDescriptor> bad = CudnnRnnDataDescriptor::Create(4, 2, 8, too_long);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
}

}  // namespace
}  // namespace rill::gpu
