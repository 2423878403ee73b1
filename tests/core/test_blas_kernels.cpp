// The OpenBLAS kernel choice: only the generic fallback is replaced, by the widest vector ISA present.

#include <gtest/gtest.h>

#include "fxnn/core/blas_kernels.h"

namespace fxnn {
namespace {

TEST(BlasKernels, FallbackIsReplacedByTheWidestIsa) {
  EXPECT_EQ(faster_blas_core({"Prescott", true, true}), std::optional<std::string>("SkylakeX"));
  EXPECT_EQ(faster_blas_core({"Prescott", false, true}), std::optional<std::string>("Haswell"));
  EXPECT_EQ(faster_blas_core({"Prescott", false, false}), std::nullopt);
}

TEST(BlasKernels, RecognisedModelsAndOtherBlasStay) {
  EXPECT_EQ(faster_blas_core({"Cooperlake", true, true}), std::nullopt);
  EXPECT_EQ(faster_blas_core({"Zen", false, true}), std::nullopt);
  EXPECT_EQ(faster_blas_core({"", true, true}), std::nullopt);
}

} // namespace
} // namespace fxnn
