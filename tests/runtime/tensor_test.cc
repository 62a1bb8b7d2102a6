// Tensor's constructors have no status to return: a shape that is not a size, or values that do
// not fill the shape, stop the program with one line saying what was asked (never a tensor whose
// size() is negative or whose memory is smaller than its shape).
#include "runtime/tensor.h"

#include <gtest/gtest.h>

#include <vector>

namespace rill {
namespace {

TEST(TensorDeathTest, AShapeThatIsNotASizeStopsWithOneLine) {
  EXPECT_DEATH(Tensor(DType::kF32, Shape{-5, 3}),
               "rill: Tensor f32\\[-5, 3\\]: dimension -5 is not a size");
  EXPECT_DEATH(Tensor(DType::kF32, Shape{kUnknownDim, 3}),
               "rill: Tensor f32\\[\\?, 3\\]: dimension \\? is not a size");
  EXPECT_DEATH(Tensor(DType::kF32, Shape{int64_t{1} << 40, int64_t{1} << 30}),
               "rill: Tensor f32\\[1099511627776, 1073741824\\]: too large");
}

TEST(TensorDeathTest, ValuesThatDoNotFillTheShapeStopWithOneLine) {
  EXPECT_DEATH(Tensor::FromVector(std::vector<float>{1, 2, 3}, Shape{2, 2}),
               "rill: Tensor::FromVector: 3 values for f32\\[2, 2\\], which holds 4");
}

TEST(TensorTest, ZeroSizedShapesAreTensors) {
  Tensor t(DType::kF32, Shape{0, 3});
  EXPECT_EQ(t.size(), 0);
  EXPECT_FALSE(t.empty());
}

}  // namespace
}  // namespace rill
