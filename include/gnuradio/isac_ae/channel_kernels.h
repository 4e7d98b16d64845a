/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_ISAC_AE_CHANNEL_KERNELS_H
#define INCLUDED_ISAC_AE_CHANNEL_KERNELS_H

#include <gnuradio/gr_complex.h>
#include <gnuradio/isac_ae/api.h>
#include <cstddef>

namespace gr {
namespace isac_ae {

/*!
 * \brief Steering vector a(theta)_k = exp(-j 2 pi p_k sin(theta)), k < K.
 *
 * positions: K element positions in wavelengths; theta in radians.
 * The phase is reduced in turns, so its error does not grow with p_k.
 */
ISAC_AE_API void
steering_vector(const float* positions, std::size_t K, float theta, gr_complex* a);

/*!
 * \brief Radar channel of eq. (1) for given draws:
 * z[i] = alpha[i] a(theta[i]) a(theta[i])^T y[i] + noise[i].
 *
 * y, noise, z: n x K (row i is snapshot i); theta, alpha: n. alpha = 0 (no
 * target: the channel passes t * alpha) gives z = noise without computing a.
 * noise may be nullptr (no noise) or equal to z (added in place).
 */
ISAC_AE_API void radar_observation(const gr_complex* y,
                                   const float* theta,
                                   const gr_complex* alpha,
                                   const gr_complex* noise,
                                   std::size_t n,
                                   const float* positions,
                                   std::size_t K,
                                   gr_complex* z);

/*!
 * \brief Comm channel of eq. (2) for given draws, with the receiver's CSI:
 * z[i] = beta[i] a(vartheta[i])^T y[i] + noise[i],  kappa[i] = beta[i] a(vartheta[i])^T
 * v[i].
 *
 * y, v: n x K; vartheta, beta, noise, z, kappa: n. noise may be nullptr.
 */
ISAC_AE_API void comm_observation(const gr_complex* y,
                                  const gr_complex* v,
                                  const float* vartheta,
                                  const gr_complex* beta,
                                  const gr_complex* noise,
                                  std::size_t n,
                                  const float* positions,
                                  std::size_t K,
                                  gr_complex* z,
                                  gr_complex* kappa);

} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_CHANNEL_KERNELS_H */
