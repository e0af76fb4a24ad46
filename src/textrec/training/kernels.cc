// CPU training kernels for the MobileNetV3 CRNN, as Paddle custom operators with their gradients.
// Same arithmetic as Paddle's own kernels; only the loops differ (results equal up to float rounding).
//
// textrec_dwconv2d: depthwise 2-D convolution (groups == channels, no bias, dilation 1, zero padding).
//   Paddle 3.3's CPU depthwise_conv2d is its generic grouped convolution: one im2col + one tiny GEMM per
//   (sample, channel) pair, over half of a MobileNetV3 training step. Here: row by row, vectorised.
//   out[n,c,oh,ow] = sum_kh,kw w[c,0,kh,kw] * x[n,c,oh*sh-ph+kh,ow*sw-pw+kw]
//   x [N, C, H, W] float32, w [C, 1, KH, KW] -> out [N, C, Ho, Wo], Ho = (H + 2*ph - KH) / sh + 1, same for W.
// textrec_hardswish: out = x * min(max(x + 3, 0), 6) / 6 (Paddle's defaults). Paddle's CPU hardswish_grad
//   costs ~5 ns per element; this one ~1.
// Single-threaded by design: the trainer uses one process per core.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "paddle/extension.h"

namespace {

struct Geometry {
  int64_t n, c, h, w, kh, kw, ho, wo;
  int sh, sw, ph, pw;
};

Geometry MakeGeometry(const std::vector<int64_t>& x, const std::vector<int64_t>& f, int sh, int sw, int ph,
                      int pw) {
  PD_CHECK(x.size() == 4, "textrec_dwconv2d: x must be [N, C, H, W]");
  PD_CHECK(f.size() == 4 && f[1] == 1 && f[0] == x[1],
           "textrec_dwconv2d: w must be [C, 1, KH, KW] with C = x.shape[1]");
  PD_CHECK(sh > 0 && sw > 0 && ph >= 0 && pw >= 0, "textrec_dwconv2d: bad stride/padding");
  Geometry g{x[0], x[1], x[2], x[3], f[2], f[3], 0, 0, sh, sw, ph, pw};
  g.ho = (g.h + 2 * ph - g.kh) / sh + 1;
  g.wo = (g.w + 2 * pw - g.kw) / sw + 1;
  PD_CHECK(g.ho > 0 && g.wo > 0, "textrec_dwconv2d: empty output");
  return g;
}

// Output columns ow whose input column ow*sw - pw + k lies in [0, W): [lo, hi).
inline void ColumnRange(const Geometry& g, int64_t k, int64_t* lo, int64_t* hi) {
  int64_t first = g.pw - k;  // smallest ow*sw allowed
  *lo = first <= 0 ? 0 : (first + g.sw - 1) / g.sw;
  int64_t last = g.w - 1 + g.pw - k;  // largest ow*sw allowed
  *hi = last < 0 ? 0 : std::min<int64_t>(g.wo, last / g.sw + 1);
}

// ColumnRange for every kernel column, computed once per call.
struct Columns {
  std::vector<int64_t> lo, hi;
  explicit Columns(const Geometry& g) : lo(g.kw), hi(g.kw) {
    for (int64_t j = 0; j < g.kw; ++j) ColumnRange(g, j, &lo[j], &hi[j]);
  }
};

void CheckCpuFloat(const paddle::Tensor& t, const char* name) {
  PD_CHECK(t.is_cpu(), "textrec kernels: ", name, " must be on CPU");
  PD_CHECK(t.dtype() == paddle::DataType::FLOAT32, "textrec kernels: ", name, " must be float32");
  PD_CHECK(t.is_contiguous(), "textrec kernels: ", name, " must be contiguous");  // raw row-major loops
}

}  // namespace

std::vector<paddle::Tensor> DwConvForward(const paddle::Tensor& x, const paddle::Tensor& w, int stride_h,
                                          int stride_w, int pad_h, int pad_w) {
  CheckCpuFloat(x, "x");
  CheckCpuFloat(w, "w");
  const Geometry g = MakeGeometry(x.shape(), w.shape(), stride_h, stride_w, pad_h, pad_w);
  const Columns cr(g);
  auto out = paddle::full({g.n, g.c, g.ho, g.wo}, 0.0f, paddle::DataType::FLOAT32, x.place());
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  float* od = out.data<float>();
  for (int64_t nc = 0; nc < g.n * g.c; ++nc) {
    const float* xp = xd + nc * g.h * g.w;
    const float* wp = wd + (nc % g.c) * g.kh * g.kw;
    float* op = od + nc * g.ho * g.wo;
    for (int64_t oh = 0; oh < g.ho; ++oh) {
      float* __restrict orow = op + oh * g.wo;
      for (int64_t i = 0; i < g.kh; ++i) {
        const int64_t ih = oh * g.sh - g.ph + i;
        if (ih < 0 || ih >= g.h) continue;
        const float* __restrict irow = xp + ih * g.w;
        for (int64_t j = 0; j < g.kw; ++j) {
          const float wv = wp[i * g.kw + j];
          const int64_t lo = cr.lo[j], hi = cr.hi[j];
          const int64_t off = j - g.pw;
          if (g.sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) orow[ow] += wv * irow[ow + off];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) orow[ow] += wv * irow[ow * g.sw + off];
          }
        }
      }
    }
  }
  return {out};
}

std::vector<paddle::Tensor> DwConvBackward(const paddle::Tensor& x, const paddle::Tensor& w,
                                           const paddle::Tensor& grad_out, int stride_h, int stride_w,
                                           int pad_h, int pad_w) {
  CheckCpuFloat(x, "x");
  CheckCpuFloat(w, "w");
  CheckCpuFloat(grad_out, "grad_out");
  const Geometry g = MakeGeometry(x.shape(), w.shape(), stride_h, stride_w, pad_h, pad_w);
  const Columns cr(g);
  auto gx = paddle::full(x.shape(), 0.0f, paddle::DataType::FLOAT32, x.place());
  auto gw = paddle::full(w.shape(), 0.0f, paddle::DataType::FLOAT32, w.place());
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  const float* god = grad_out.data<float>();
  float* gxd = gx.data<float>();
  float* gwd = gw.data<float>();
  const int64_t taps = g.kh * g.kw;
  // grad_x: every output gradient spread back over the inputs it read (a transposed convolution)
  for (int64_t nc = 0; nc < g.n * g.c; ++nc) {
    const float* wp = wd + (nc % g.c) * taps;
    const float* gop = god + nc * g.ho * g.wo;
    float* gxp = gxd + nc * g.h * g.w;
    for (int64_t oh = 0; oh < g.ho; ++oh) {
      const float* __restrict gorow = gop + oh * g.wo;
      for (int64_t i = 0; i < g.kh; ++i) {
        const int64_t ih = oh * g.sh - g.ph + i;
        if (ih < 0 || ih >= g.h) continue;
        float* __restrict gxrow = gxp + ih * g.w;
        for (int64_t j = 0; j < g.kw; ++j) {
          const float wv = wp[i * g.kw + j];
          const int64_t lo = cr.lo[j], hi = cr.hi[j];
          const int64_t off = j - g.pw;
          if (g.sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) gxrow[ow + off] += wv * gorow[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) gxrow[ow * g.sw + off] += wv * gorow[ow];
          }
        }
      }
    }
  }
  // grad_w: per channel and tap, the sum over samples and positions of output gradient * input read.
  // Accumulated per output column first (vertical, vectorised), then summed over the columns in double.
  std::vector<float> cols(taps * g.wo);
  for (int64_t c = 0; c < g.c; ++c) {
    std::fill(cols.begin(), cols.end(), 0.0f);
    for (int64_t n = 0; n < g.n; ++n) {
      const int64_t nc = n * g.c + c;
      const float* xp = xd + nc * g.h * g.w;
      const float* gop = god + nc * g.ho * g.wo;
      for (int64_t oh = 0; oh < g.ho; ++oh) {
        const float* __restrict gorow = gop + oh * g.wo;
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t ih = oh * g.sh - g.ph + i;
          if (ih < 0 || ih >= g.h) continue;
          const float* __restrict irow = xp + ih * g.w;
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t lo = cr.lo[j], hi = cr.hi[j];
            const int64_t off = j - g.pw;
            float* __restrict col = cols.data() + (i * g.kw + j) * g.wo;
            if (g.sw == 1) {
              for (int64_t ow = lo; ow < hi; ++ow) col[ow] += gorow[ow] * irow[ow + off];
            } else {
              for (int64_t ow = lo; ow < hi; ++ow) col[ow] += gorow[ow] * irow[ow * g.sw + off];
            }
          }
        }
      }
    }
    for (int64_t t = 0; t < taps; ++t) {
      double sum = 0.0;
      for (int64_t ow = 0; ow < g.wo; ++ow) sum += cols[t * g.wo + ow];
      gwd[c * taps + t] = static_cast<float>(sum);
    }
  }
  return {gx, gw};
}

std::vector<std::vector<int64_t>> DwConvInferShape(const std::vector<int64_t>& x_shape,
                                                   const std::vector<int64_t>& w_shape, int stride_h,
                                                   int stride_w, int pad_h, int pad_w) {
  // batch and width may be unknown (-1) while a static graph is traced
  const int64_t ho = x_shape[2] < 0 ? -1 : (x_shape[2] + 2 * pad_h - w_shape[2]) / stride_h + 1;
  const int64_t wo = x_shape[3] < 0 ? -1 : (x_shape[3] + 2 * pad_w - w_shape[3]) / stride_w + 1;
  return {{x_shape[0], x_shape[1], ho, wo}};
}

std::vector<paddle::DataType> DwConvInferDtype(const paddle::DataType& x_dtype, const paddle::DataType& w_dtype) {
  return {x_dtype};
}

PD_BUILD_OP(textrec_dwconv2d)
    .Inputs({"X", "W"})
    .Outputs({"Out"})
    .Attrs({"stride_h: int", "stride_w: int", "pad_h: int", "pad_w: int"})
    .SetKernelFn(PD_KERNEL(DwConvForward))
    .SetInferShapeFn(PD_INFER_SHAPE(DwConvInferShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(DwConvInferDtype));

PD_BUILD_GRAD_OP(textrec_dwconv2d)
    .Inputs({"X", "W", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X"), paddle::Grad("W")})
    .Attrs({"stride_h: int", "stride_w: int", "pad_h: int", "pad_w: int"})
    .SetKernelFn(PD_KERNEL(DwConvBackward));

// ---------------------------------------------------------------------------------------------------------
// hardswish, with Paddle's formulas (threshold 6, scale 6, offset 3):
//   out = min(max(x + 3, 0), 6) * x / 6
//   dx  = dout * ([x + 3 > 0] * (2x + 3) / 6 * [x + 3 < 6] + [x + 3 >= 6])

std::vector<paddle::Tensor> HardswishForward(const paddle::Tensor& x) {
  CheckCpuFloat(x, "x");
  auto out = paddle::empty(x.shape(), paddle::DataType::FLOAT32, x.place());
  const float* __restrict xd = x.data<float>();
  float* __restrict od = out.data<float>();
  const int64_t n = x.numel();
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float t = std::min(std::max(xd[i] + 3.0f, 0.0f), 6.0f);
    od[i] = t * xd[i] / 6.0f;
  }
  return {out};
}

std::vector<paddle::Tensor> HardswishBackward(const paddle::Tensor& x, const paddle::Tensor& grad_out) {
  CheckCpuFloat(x, "x");
  CheckCpuFloat(grad_out, "grad_out");
  PD_CHECK(x.numel() == grad_out.numel(), "textrec_hardswish: grad_out does not match x");
  auto gx = paddle::empty(x.shape(), paddle::DataType::FLOAT32, x.place());
  const float* __restrict xd = x.data<float>();
  const float* __restrict god = grad_out.data<float>();
  float* __restrict gxd = gx.data<float>();
  const int64_t n = x.numel();
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float s = xd[i] + 3.0f;
    const float below = s < 6.0f ? 1.0f : 0.0f;
    const float inside = s > 0.0f ? (2.0f * xd[i] + 3.0f) / 6.0f * below : 0.0f;
    gxd[i] = god[i] * (inside + (1.0f - below));
  }
  return {gx};
}

PD_BUILD_OP(textrec_hardswish)
    .Inputs({"X"})
    .Outputs({"Out"})
    .SetKernelFn(PD_KERNEL(HardswishForward));

PD_BUILD_GRAD_OP(textrec_hardswish)
    .Inputs({"X", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X")})
    .SetKernelFn(PD_KERNEL(HardswishBackward));
