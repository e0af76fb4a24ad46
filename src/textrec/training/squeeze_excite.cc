// Squeeze-and-excite pieces of MobileNetV3 as Paddle custom operators with their gradients. Paddle 3.3's CPU
// adaptive average pool and broadcast multiply (and their gradients) go through its generic pooling window and
// broadcast machinery: ~9% of a MobileNetV3 CRNN training step, ~6% here (both memory-bound). Same arithmetic,
// plane by plane (results equal up to float rounding).
//
// textrec_plane_mean: x [N, C, H, W] -> out [N, C, 1, 1], the mean of each plane (AdaptiveAvgPool2D(1)).
//   grad: dx[n, c, h, w] = dout[n, c] / (H * W).
// textrec_channel_scale: x [N, C, H, W] * s [N, C, 1, 1] -> out [N, C, H, W].
//   grad: dx = dout * s, ds[n, c] = sum over the plane of dout * x.
// Single-threaded by design: the trainer uses one process per core.

#include <cstdint>
#include <vector>

#include "paddle/extension.h"

namespace {

void CheckPlanes(const paddle::Tensor& t, const char* op, const char* name) {
  PD_CHECK(t.is_cpu() && t.dtype() == paddle::DataType::FLOAT32 && t.is_contiguous(), op, ": ", name,
           " must be a contiguous float32 CPU tensor");
  PD_CHECK(t.shape().size() == 4, op, ": ", name, " must be [N, C, H, W]");
}

void CheckScale(const paddle::Tensor& x, const paddle::Tensor& s, const char* op) {
  CheckPlanes(s, op, "s");
  PD_CHECK(s.shape()[0] == x.shape()[0] && s.shape()[1] == x.shape()[1] && s.shape()[2] == 1 && s.shape()[3] == 1,
           op, ": s must be [N, C, 1, 1] for x [N, C, H, W]");
}

}  // namespace

std::vector<paddle::Tensor> PlaneMeanForward(const paddle::Tensor& x) {
  CheckPlanes(x, "textrec_plane_mean", "x");
  const auto& d = x.shape();
  const int64_t planes = d[0] * d[1], hw = d[2] * d[3];
  auto out = paddle::empty({d[0], d[1], 1, 1}, paddle::DataType::FLOAT32, x.place());
  const float* xd = x.data<float>();
  float* od = out.data<float>();
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = xd + p * hw;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t k = 0; k < hw; ++k) sum += xp[k];
    od[p] = sum / static_cast<float>(hw);
  }
  return {out};
}

std::vector<paddle::Tensor> PlaneMeanBackward(const paddle::Tensor& x, const paddle::Tensor& grad_out) {
  CheckPlanes(grad_out, "textrec_plane_mean", "grad_out");
  const auto& d = x.shape();
  const int64_t planes = d[0] * d[1], hw = d[2] * d[3];
  auto gx = paddle::empty(d, paddle::DataType::FLOAT32, x.place());
  const float* god = grad_out.data<float>();
  float* gxd = gx.data<float>();
  for (int64_t p = 0; p < planes; ++p) {
    const float v = god[p] / static_cast<float>(hw);
    float* gp = gxd + p * hw;
#pragma omp simd
    for (int64_t k = 0; k < hw; ++k) gp[k] = v;
  }
  return {gx};
}

std::vector<std::vector<int64_t>> PlaneMeanInferShape(const std::vector<int64_t>& x_shape) {
  return {{x_shape[0], x_shape[1], 1, 1}};
}

std::vector<paddle::DataType> SameDtype(const paddle::DataType& x_dtype) { return {x_dtype}; }

PD_BUILD_OP(textrec_plane_mean)
    .Inputs({"X"})
    .Outputs({"Out"})
    .SetKernelFn(PD_KERNEL(PlaneMeanForward))
    .SetInferShapeFn(PD_INFER_SHAPE(PlaneMeanInferShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(SameDtype));

PD_BUILD_GRAD_OP(textrec_plane_mean)
    .Inputs({"X", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X")})
    .SetKernelFn(PD_KERNEL(PlaneMeanBackward));

std::vector<paddle::Tensor> ChannelScaleForward(const paddle::Tensor& x, const paddle::Tensor& s) {
  CheckPlanes(x, "textrec_channel_scale", "x");
  CheckScale(x, s, "textrec_channel_scale");
  const auto& d = x.shape();
  const int64_t planes = d[0] * d[1], hw = d[2] * d[3];
  auto out = paddle::empty(d, paddle::DataType::FLOAT32, x.place());
  const float* xd = x.data<float>();
  const float* sd = s.data<float>();
  float* od = out.data<float>();
  for (int64_t p = 0; p < planes; ++p) {
    const float v = sd[p];
    const float* xp = xd + p * hw;
    float* op = od + p * hw;
#pragma omp simd
    for (int64_t k = 0; k < hw; ++k) op[k] = xp[k] * v;
  }
  return {out};
}

std::vector<paddle::Tensor> ChannelScaleBackward(const paddle::Tensor& x, const paddle::Tensor& s,
                                                 const paddle::Tensor& grad_out) {
  CheckPlanes(grad_out, "textrec_channel_scale", "grad_out");
  const auto& d = x.shape();
  const int64_t planes = d[0] * d[1], hw = d[2] * d[3];
  auto gx = paddle::empty(d, paddle::DataType::FLOAT32, x.place());
  auto gs = paddle::empty(s.shape(), paddle::DataType::FLOAT32, s.place());
  const float* xd = x.data<float>();
  const float* sd = s.data<float>();
  const float* god = grad_out.data<float>();
  float* gxd = gx.data<float>();
  float* gsd = gs.data<float>();
  for (int64_t p = 0; p < planes; ++p) {
    const float v = sd[p];
    const float* xp = xd + p * hw;
    const float* gp = god + p * hw;
    float* gxp = gxd + p * hw;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t k = 0; k < hw; ++k) {
      gxp[k] = gp[k] * v;
      sum += gp[k] * xp[k];
    }
    gsd[p] = sum;
  }
  return {gx, gs};
}

std::vector<std::vector<int64_t>> ChannelScaleInferShape(const std::vector<int64_t>& x_shape,
                                                         const std::vector<int64_t>& s_shape) {
  return {x_shape};
}

std::vector<paddle::DataType> ChannelScaleInferDtype(const paddle::DataType& x_dtype,
                                                     const paddle::DataType& s_dtype) {
  return {x_dtype};
}

PD_BUILD_OP(textrec_channel_scale)
    .Inputs({"X", "S"})
    .Outputs({"Out"})
    .SetKernelFn(PD_KERNEL(ChannelScaleForward))
    .SetInferShapeFn(PD_INFER_SHAPE(ChannelScaleInferShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(ChannelScaleInferDtype));

PD_BUILD_GRAD_OP(textrec_channel_scale)
    .Inputs({"X", "S", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X"), paddle::Grad("S")})
    .SetKernelFn(PD_KERNEL(ChannelScaleBackward));
