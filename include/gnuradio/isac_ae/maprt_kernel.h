/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_ISAC_AE_MAPRT_KERNEL_H
#define INCLUDED_ISAC_AE_MAPRT_KERNEL_H

#include <gnuradio/gr_complex.h>
#include <gnuradio/isac_ae/api.h>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace gr {
namespace isac_ae {

/*!
 * \brief The MAPRT search of Appendix A, eq. (18): max over the prior sector of
 * |a(theta)^H z|^2, and its argmax.
 *
 * The same search as the Python core (isac_ae.baselines.maprt.MaprtDetector):
 * a fine grid uniform in u = sin(theta) with num_fine = ceil((sin(theta_max) -
 * sin(theta_min)) / fine_step_u) + 1 points (numpy.linspace), a coarse grid of
 * every refine_factor^levels-th fine point (plus the last one), the best
 * `candidates` local maxima of the coarse statistic (sector edges count), each
 * refined through `levels` levels of 2 refine_factor + 1 points with strides
 * refine_factor^(levels-1), ..., 1, and the best refined candidate returned.
 * Differences from the core: where the coarse statistic has fewer local maxima
 * than `candidates`, only the maxima are refined (the core also refines
 * arbitrary non-maxima, which cannot beat a maximum's neighbourhood except on
 * a grid point the coarse grid missed); ties go to the first point in grid order.
 *
 * Tables are computed in double at construction and stored as float. The sums
 * use a^*(u_c + d) = a^*(u_c) e^{j 2 pi p d}, with e^{-j 2 pi p d} the conjugate of
 * e^{j 2 pi p d}: the points u_c +- d of a symmetric set share the real-weighted
 * sums C = sum_k w_k cos(2 pi p_k d) and S = sum_k w_k sin(2 pi p_k d)
 * (w = z a^*(u_c)), |C + jS|^2 and |C - jS|^2, which halves the work. Each
 * refinement level is symmetric about its centre; the coarse grid is symmetric
 * about its middle (an appended last point is computed on its own).
 * A candidate whose value plus the largest possible gain over the distance the
 * remaining levels can move (from a bound on d|a(u)^H z|/du) stays below the
 * best refined candidate is not refined further: it cannot win, so the result
 * is the same as refining it.
 */
class ISAC_AE_API maprt_search
{
public:
    /*!
     * positions: K element positions, wavelengths, |p_k| <= 1e4 (the array the
     * detector assumes). theta_min <= theta_max: the prior sector, radians
     * (a kernel, the twin of the core's; the blocks take degrees), within
     * [-pi/2, pi/2]. At most 2^26 table entries (num_fine x K); candidates
     * beyond the number of coarse points are clamped. Throws
     * std::invalid_argument on bad parameters.
     */
    maprt_search(const std::vector<float>& positions,
                 double theta_min,
                 double theta_max,
                 double fine_step_u = 2e-4,
                 int refine_factor = 10,
                 int levels = 2,
                 int candidates = 3);

    std::size_t num_antennas() const { return d_K; }
    std::size_t num_fine() const { return d_num_fine; }
    std::size_t num_coarse() const { return d_coarse.size(); }
    double theta_min() const { return d_theta_min; }
    double theta_max() const { return d_theta_max; }
    /*! u = sin(theta) of fine grid point i. */
    double u(std::size_t i) const { return d_u[i]; }
    /*! theta of fine grid point index (float(asin(u))), NaN for index < 0. */
    float theta(std::int32_t index) const;

    /*!
     * Coarse-to-fine search of n snapshots z (n x K). Writes the statistic and
     * the fine-grid index of the estimate. A snapshot with a NaN or infinite
     * sample (or whose energy overflows) gets statistic 0 and index -1.
     * Returns the number of such snapshots.
     */
    std::size_t search(const gr_complex* z,
                       std::size_t n,
                       float* statistic,
                       std::int32_t* index) const;

    /*! Reference: exhaustive search of the fine grid (slow; for tests). Same non-finite
     * rule. */
    std::size_t fine_search(const gr_complex* z,
                            std::size_t n,
                            float* statistic,
                            std::int32_t* index) const;

private:
    std::size_t d_K;
    double d_theta_min, d_theta_max;
    std::size_t d_num_fine;
    double d_step_u;
    int d_refine, d_levels, d_candidates;
    std::vector<double> d_u;
    std::vector<float> d_theta;
    // conj steering vectors e^{j 2 pi p_k u_i} of the fine grid, [i * K + k]
    std::vector<float> d_table_re, d_table_im;
    // coarse grid: fine indices; the first d_num_uniform are uniform (stride
    // refine^levels), symmetric about u_mid: base e^{j 2 pi p_k u_mid} [k], and
    // per pair m (points m and num_uniform - 1 - m) cos / sin of 2 pi p_k d_m,
    // [(g * K + k) * 8 + lane], m = 8 g + lane
    std::vector<std::int32_t> d_coarse;
    std::size_t d_num_uniform, d_pair_groups;
    std::vector<float> d_base_re, d_base_im, d_pair_cos, d_pair_sin;
    // per level: stride and cos / sin of 2 pi p_k j stride step_u, j <= F, same layout
    std::vector<std::int32_t> d_stride;
    std::size_t d_ramp_groups;
    std::vector<std::vector<float>> d_ramp_cos, d_ramp_sin;
    // pruning bound: 2 pi |p_k - p_mid| [k], and the reach of levels l.. in u [l]
    std::vector<float> d_spread, d_reach;
};

} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_MAPRT_KERNEL_H */
