// Training-mode BatchNorm2D fused with the activation after it (MobileNetV3's ConvBN), as a Paddle custom
// operator with its gradient. Same arithmetic as Paddle's batch_norm + relu/hardswish (results equal up to
// float rounding); it replaces ~27% of a MobileNetV3 CRNN step (BN forward and backward, hardswish, relu).
//
// textrec_bn_act(x [N, C, H, W], scale [C], bias [C], mean [C], variance [C]; momentum, epsilon, act)
//   -> out, saved_mean [C], saved_inv_std [C]; mean and variance (the running statistics) updated in place:
//   mu, var = batch mean and biased variance per channel; running = running * momentum + batch * (1 - momentum)
//   out = act((x - mu) / sqrt(var + epsilon) * scale + bias), act: 0 none, 1 relu, 2 hardswish.
//   grad: with z the pre-activation, xhat = (x - mu) * inv_std, dz = dout * act'(z):
//   dbias = sum dz, dscale = sum dz * xhat, dx = scale * inv_std * (dz - mean(dz) - xhat * mean(dz * xhat)).
//
// These passes are memory-bound (the tensors are 1-12 MB at batch 64, one core reads ~10 GB/s), so they are
// arranged to read each tensor from memory once: channels are taken in groups whose planes fit in L2, and the
// second pass over a group (normalise / dx) reads it from there. The activation is recomputed from x in the
// backward instead of being stored.
// Single-threaded by design: the trainer uses one process per core.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "paddle/extension.h"

namespace {

enum Act { kNone = 0, kRelu = 1, kHardswish = 2 };

template <int A>
inline float Activate(float z) {
  if (A == kRelu) return z > 0.0f ? z : 0.0f;
  if (A == kHardswish) return std::min(std::max(z + 3.0f, 0.0f), 6.0f) * z / 6.0f;  // Paddle's formula
  return z;
}

template <int A>
inline float ActGrad(float z) {  // d act / d z
  if (A == kRelu) return z > 0.0f ? 1.0f : 0.0f;
  if (A == kHardswish) {  // 0 for z <= -3, (2z + 3) / 6 between, 1 for z >= 3 (Paddle's hardswish_grad)
    const float s = z + 3.0f, inside = (2.0f * z + 3.0f) / 6.0f;
    return s < 6.0f ? (s > 0.0f ? inside : 0.0f) : 1.0f;
  }
  return 1.0f;
}

void Check(const paddle::Tensor& t, const char* name) {
  PD_CHECK(t.is_cpu() && t.dtype() == paddle::DataType::FLOAT32 && t.is_contiguous(), "textrec_bn_act: ", name,
           " must be a contiguous float32 CPU tensor");
}

// Channels per group so that the group's planes (`arrays` tensors of n * hw floats per channel) stay in a
// core's L2 (>= 1 MB on the CPUs we train on) between the two passes.
int64_t ChannelGroup(int64_t n, int64_t hw, int64_t arrays) {
  constexpr int64_t kBudgetBytes = 512 * 1024;
  return std::max<int64_t>(1, kBudgetBytes / (n * hw * arrays * static_cast<int64_t>(sizeof(float))));
}

// Per-channel constants of the forward: out = act(x * scale + shift).
struct Affine {
  std::vector<float> scale, shift;
  explicit Affine(int64_t c) : scale(c), shift(c) {}
};

template <int A>
void NormalisePlane(const float* x, float* out, int64_t hw, float scale, float shift) {
#pragma omp simd
  for (int64_t k = 0; k < hw; ++k) out[k] = Activate<A>(x[k] * scale + shift);
}

template <int A>
void ForwardGroup(const float* x, float* out, int64_t n, int64_t c, int64_t hw, int64_t c0, int64_t c1,
                  const Affine& f) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ci = c0; ci < c1; ++ci) {
      const int64_t o = (i * c + ci) * hw;
      NormalisePlane<A>(x + o, out + o, hw, f.scale[ci], f.shift[ci]);
    }
}

// Per-channel constants of the backward (see the header).
struct GradTerms {
  std::vector<float> scale, shift, mu, k1, mean_dz, k2;
  std::vector<double> sum_dz, sum_dzx;  // sums of dz and dz * (x - mu)
  explicit GradTerms(int64_t c) : scale(c), shift(c), mu(c), k1(c), mean_dz(c), k2(c), sum_dz(c), sum_dzx(c) {}
};

template <int A>
void GradSumsGroup(const float* x, const float* dout, int64_t n, int64_t c, int64_t hw, int64_t c0, int64_t c1,
                   GradTerms& t) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ci = c0; ci < c1; ++ci) {
      const float* xp = x + (i * c + ci) * hw;
      const float* dp = dout + (i * c + ci) * hw;
      const float scale = t.scale[ci], shift = t.shift[ci], mu = t.mu[ci];
      float s_dz = 0.0f, s_dzx = 0.0f;
#pragma omp simd reduction(+ : s_dz, s_dzx)
      for (int64_t k = 0; k < hw; ++k) {
        const float dz = dp[k] * ActGrad<A>(xp[k] * scale + shift);
        s_dz += dz;
        s_dzx += dz * (xp[k] - mu);
      }
      t.sum_dz[ci] += s_dz;
      t.sum_dzx[ci] += s_dzx;
    }
}

template <int A>
void GradXGroup(const float* x, const float* dout, float* dx, int64_t n, int64_t c, int64_t hw, int64_t c0,
                int64_t c1, const GradTerms& t) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ci = c0; ci < c1; ++ci) {
      const int64_t o = (i * c + ci) * hw;
      const float *xp = x + o, *dp = dout + o;
      float* gp = dx + o;
      const float scale = t.scale[ci], shift = t.shift[ci], mu = t.mu[ci];
      const float k1 = t.k1[ci], mean_dz = t.mean_dz[ci], k2 = t.k2[ci];
#pragma omp simd
      for (int64_t k = 0; k < hw; ++k) {
        const float dz = dp[k] * ActGrad<A>(xp[k] * scale + shift);
        gp[k] = k1 * (dz - mean_dz - (xp[k] - mu) * k2);
      }
    }
}

}  // namespace

std::vector<paddle::Tensor> BnActForward(const paddle::Tensor& x, const paddle::Tensor& scale,
                                         const paddle::Tensor& bias, paddle::Tensor& mean, paddle::Tensor& variance,
                                         float momentum, float epsilon, int act) {
  Check(x, "x");
  Check(scale, "scale");
  Check(bias, "bias");
  Check(mean, "mean");
  Check(variance, "variance");
  PD_CHECK(x.shape().size() == 4, "textrec_bn_act: x must be [N, C, H, W]");
  const int64_t n = x.shape()[0], c = x.shape()[1], hw = x.shape()[2] * x.shape()[3];
  PD_CHECK(scale.numel() == c && bias.numel() == c && mean.numel() == c && variance.numel() == c,
           "textrec_bn_act: scale, bias, mean and variance must have C elements");
  PD_CHECK(act >= kNone && act <= kHardswish, "textrec_bn_act: act must be 0, 1 or 2");
  PD_CHECK(n * hw > 1, "textrec_bn_act: needs more than one value per channel");
  auto out = paddle::empty(x.shape(), paddle::DataType::FLOAT32, x.place());
  auto saved_mean = paddle::empty({c}, paddle::DataType::FLOAT32, x.place());
  auto saved_inv_std = paddle::empty({c}, paddle::DataType::FLOAT32, x.place());
  const float* xd = x.data<float>();
  const float* g = scale.data<float>();
  const float* b = bias.data<float>();
  float* rm = mean.data<float>();
  float* rv = variance.data<float>();
  float* sm = saved_mean.data<float>();
  float* si = saved_inv_std.data<float>();
  float* od = out.data<float>();
  std::vector<double> sum(c, 0.0), m2(c, 0.0), plane_mean(n * c);
  Affine f(c);
  const double count = static_cast<double>(n * hw);
  const int64_t group = ChannelGroup(n, hw, 1);
  for (int64_t c0 = 0; c0 < c; c0 += group) {
    const int64_t c1 = std::min(c, c0 + group);
    // statistics: mean and squared deviation of each plane (two passes while it is in L1), combined per
    // channel in double (Chan et al.'s pairwise formula)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t ci = c0; ci < c1; ++ci) {
        const float* p = xd + (i * c + ci) * hw;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int64_t k = 0; k < hw; ++k) s += p[k];
        const float pm = s / hw;
        float s2 = 0.0f;
#pragma omp simd reduction(+ : s2)
        for (int64_t k = 0; k < hw; ++k) s2 += (p[k] - pm) * (p[k] - pm);
        plane_mean[i * c + ci] = pm;
        sum[ci] += s;
        m2[ci] += s2;
      }
    for (int64_t ci = c0; ci < c1; ++ci) {
      const double mu = sum[ci] / count;
      double ss = m2[ci];
      for (int64_t i = 0; i < n; ++i) {
        const double d = plane_mean[i * c + ci] - mu;
        ss += hw * d * d;
      }
      const float muf = static_cast<float>(mu), var = static_cast<float>(ss / count);
      rm[ci] = rm[ci] * momentum + muf * (1.0f - momentum);
      rv[ci] = rv[ci] * momentum + var * (1.0f - momentum);
      const float inv_std = 1.0f / std::sqrt(var + epsilon);
      sm[ci] = muf;
      si[ci] = inv_std;
      f.scale[ci] = inv_std * g[ci];  // as Paddle: x * (inv_std * scale) + (bias - mu * inv_std * scale)
      f.shift[ci] = b[ci] - muf * inv_std * g[ci];
    }
    if (act == kRelu) ForwardGroup<kRelu>(xd, od, n, c, hw, c0, c1, f);
    else if (act == kHardswish) ForwardGroup<kHardswish>(xd, od, n, c, hw, c0, c1, f);
    else ForwardGroup<kNone>(xd, od, n, c, hw, c0, c1, f);
  }
  return {out, saved_mean, saved_inv_std};
}

std::vector<paddle::Tensor> BnActBackward(const paddle::Tensor& x, const paddle::Tensor& scale,
                                          const paddle::Tensor& bias, const paddle::Tensor& saved_mean,
                                          const paddle::Tensor& saved_inv_std, const paddle::Tensor& grad_out,
                                          float momentum, float epsilon, int act) {
  Check(x, "x");
  Check(grad_out, "grad_out");
  const int64_t n = x.shape()[0], c = x.shape()[1], hw = x.shape()[2] * x.shape()[3];
  auto dx = paddle::empty(x.shape(), paddle::DataType::FLOAT32, x.place());
  auto dscale = paddle::empty({c}, paddle::DataType::FLOAT32, x.place());
  auto dbias = paddle::empty({c}, paddle::DataType::FLOAT32, x.place());
  const float* xd = x.data<float>();
  const float* dod = grad_out.data<float>();
  const float* g = scale.data<float>();
  const float* b = bias.data<float>();
  const float* sm = saved_mean.data<float>();
  const float* si = saved_inv_std.data<float>();
  float* dxd = dx.data<float>();
  float* dg = dscale.data<float>();
  float* db = dbias.data<float>();
  GradTerms t(c);
  for (int64_t ci = 0; ci < c; ++ci) {
    t.scale[ci] = si[ci] * g[ci];
    t.shift[ci] = b[ci] - sm[ci] * si[ci] * g[ci];
    t.mu[ci] = sm[ci];
  }
  const float m = static_cast<float>(n * hw);
  const int64_t group = ChannelGroup(n, hw, 2);
  for (int64_t c0 = 0; c0 < c; c0 += group) {
    const int64_t c1 = std::min(c, c0 + group);
    if (act == kRelu) GradSumsGroup<kRelu>(xd, dod, n, c, hw, c0, c1, t);
    else if (act == kHardswish) GradSumsGroup<kHardswish>(xd, dod, n, c, hw, c0, c1, t);
    else GradSumsGroup<kNone>(xd, dod, n, c, hw, c0, c1, t);
    for (int64_t ci = c0; ci < c1; ++ci) {
      db[ci] = static_cast<float>(t.sum_dz[ci]);
      dg[ci] = static_cast<float>(t.sum_dzx[ci] * si[ci]);
      t.k1[ci] = g[ci] * si[ci];
      t.mean_dz[ci] = db[ci] / m;
      t.k2[ci] = dg[ci] / m * si[ci];
    }
    if (act == kRelu) GradXGroup<kRelu>(xd, dod, dxd, n, c, hw, c0, c1, t);
    else if (act == kHardswish) GradXGroup<kHardswish>(xd, dod, dxd, n, c, hw, c0, c1, t);
    else GradXGroup<kNone>(xd, dod, dxd, n, c, hw, c0, c1, t);
  }
  return {dx, dscale, dbias};
}

std::vector<std::vector<int64_t>> BnActInferShape(const std::vector<int64_t>& x, const std::vector<int64_t>& scale,
                                                  const std::vector<int64_t>& bias, const std::vector<int64_t>& mean,
                                                  const std::vector<int64_t>& variance) {
  return {x, scale, scale};  // out, saved_mean, saved_inv_std (mean and variance are updated in place)
}

std::vector<paddle::DataType> BnActInferDtype(const paddle::DataType& x, const paddle::DataType& scale,
                                              const paddle::DataType& bias, const paddle::DataType& mean,
                                              const paddle::DataType& variance) {
  return {x, x, x};
}

PD_BUILD_OP(textrec_bn_act)
    .Inputs({"X", "Scale", "Bias", "Mean", "Variance"})
    .Outputs({"Out", "SavedMean", "SavedInvStd", "MeanOut", "VarianceOut"})
    .Attrs({"momentum: float", "epsilon: float", "act: int"})
    .SetInplaceMap({{"Mean", "MeanOut"}, {"Variance", "VarianceOut"}})
    .SetKernelFn(PD_KERNEL(BnActForward))
    .SetInferShapeFn(PD_INFER_SHAPE(BnActInferShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(BnActInferDtype));

PD_BUILD_GRAD_OP(textrec_bn_act)
    .Inputs({"X", "Scale", "Bias", "SavedMean", "SavedInvStd", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X"), paddle::Grad("Scale"), paddle::Grad("Bias")})
    .Attrs({"momentum: float", "epsilon: float", "act: int"})
    .SetKernelFn(PD_KERNEL(BnActBackward));
