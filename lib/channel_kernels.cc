/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "fast_math.h"
#include <gnuradio/isac_ae/channel_kernels.h>

#include <algorithm>
#include <vector>

namespace gr {
namespace isac_ae {

namespace {

constexpr float inv_two_pi = 0.159154943091895336f;

// sin(theta[i]) for a block of items (vectorised over the items).
inline void sines(const float* __restrict theta, std::size_t n, float* __restrict s)
{
    for (std::size_t i = 0; i < n; i++) {
        float c;
        detail::sincos_turns(theta[i] * inv_two_pi, c, s[i]);
    }
}

// a_k = exp(-j 2 pi p_k u), split into real and imaginary parts.
inline void steer(const float* __restrict p,
                  std::size_t K,
                  float u,
                  float* __restrict ar,
                  float* __restrict ai)
{
    for (std::size_t k = 0; k < K; k++) {
        detail::sincos_turns(-p[k] * u, ar[k], ai[k]);
    }
}

// a^T x for interleaved complex x.
inline void dot(const float* __restrict ar,
                const float* __restrict ai,
                const float* __restrict x,
                std::size_t K,
                float& re,
                float& im)
{
    float sr = 0.0f, si = 0.0f;
    for (std::size_t k = 0; k < K; k++) {
        sr += ar[k] * x[2 * k] - ai[k] * x[2 * k + 1];
        si += ar[k] * x[2 * k + 1] + ai[k] * x[2 * k];
    }
    re = sr;
    im = si;
}

constexpr std::size_t chunk = 256;

} // namespace

ISAC_AE_MULTIVERSION
void steering_vector(const float* positions, std::size_t K, float theta, gr_complex* a)
{
    float c, s;
    detail::sincos_turns(theta * inv_two_pi, c, s);
    float* out = reinterpret_cast<float*>(a);
    for (std::size_t k = 0; k < K; k++) {
        detail::sincos_turns(-positions[k] * s, out[2 * k], out[2 * k + 1]);
    }
}

ISAC_AE_MULTIVERSION
void radar_observation(const gr_complex* y,
                       const float* theta,
                       const gr_complex* alpha,
                       const gr_complex* noise,
                       std::size_t n,
                       const float* positions,
                       std::size_t K,
                       gr_complex* z)
{
    std::vector<float> scratch(2 * K + chunk);
    float* __restrict ar = scratch.data();
    float* __restrict ai = ar + K;
    float* __restrict s = ai + K;
    for (std::size_t i0 = 0; i0 < n; i0 += chunk) {
        const std::size_t m = std::min(chunk, n - i0);
        sines(theta + i0, m, s);
        for (std::size_t j = 0; j < m; j++) {
            const std::size_t i = i0 + j;
            const float* nz =
                noise ? reinterpret_cast<const float*>(noise + i * K) : nullptr;
            float* out =
                reinterpret_cast<float*>(z + i * K); // may alias noise (in place)
            const float alr = alpha[i].real(), ali = alpha[i].imag();
            if (alr == 0.0f && ali == 0.0f) { // no target: noise only
                for (std::size_t k = 0; k < 2 * K; k++) {
                    out[k] = nz ? nz[k] : 0.0f;
                }
                continue;
            }
            steer(positions, K, s[j], ar, ai);
            float dr, di;
            dot(ar, ai, reinterpret_cast<const float*>(y + i * K), K, dr, di);
            const float gr_ = alr * dr - ali * di, gi = alr * di + ali * dr;
            for (std::size_t k = 0; k < K; k++) {
                const float nr = nz ? nz[2 * k] : 0.0f, ni = nz ? nz[2 * k + 1] : 0.0f;
                out[2 * k] = nr + gr_ * ar[k] - gi * ai[k];
                out[2 * k + 1] = ni + gr_ * ai[k] + gi * ar[k];
            }
        }
    }
}

ISAC_AE_MULTIVERSION
void comm_observation(const gr_complex* y,
                      const gr_complex* v,
                      const float* vartheta,
                      const gr_complex* beta,
                      const gr_complex* noise,
                      std::size_t n,
                      const float* positions,
                      std::size_t K,
                      gr_complex* z,
                      gr_complex* kappa)
{
    std::vector<float> scratch(2 * K + chunk);
    float* __restrict ar = scratch.data();
    float* __restrict ai = ar + K;
    float* __restrict s = ai + K;
    for (std::size_t i0 = 0; i0 < n; i0 += chunk) {
        const std::size_t m = std::min(chunk, n - i0);
        sines(vartheta + i0, m, s);
        for (std::size_t j = 0; j < m; j++) {
            const std::size_t i = i0 + j;
            steer(positions, K, s[j], ar, ai);
            float yr, yi, vr, vi;
            dot(ar, ai, reinterpret_cast<const float*>(y + i * K), K, yr, yi);
            dot(ar, ai, reinterpret_cast<const float*>(v + i * K), K, vr, vi);
            const float br = beta[i].real(), bi = beta[i].imag();
            const gr_complex nz = noise ? noise[i] : gr_complex(0.0f, 0.0f);
            z[i] =
                gr_complex(br * yr - bi * yi + nz.real(), br * yi + bi * yr + nz.imag());
            kappa[i] = gr_complex(br * vr - bi * vi, br * vi + bi * vr);
        }
    }
}

} // namespace isac_ae
} // namespace gr
