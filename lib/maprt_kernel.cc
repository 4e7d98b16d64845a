/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "fast_math.h"
#include "params.h"
#include <gnuradio/isac_ae/maprt_kernel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace gr {
namespace isac_ae {

namespace {

// Eight floats: one AVX register in the x86-64-v3 clone, two SSE registers otherwise.
typedef float v8f __attribute__((vector_size(32)));
constexpr std::size_t lanes = 8;

inline __attribute__((always_inline)) v8f load8(const float* p)
{
    v8f v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

inline __attribute__((always_inline)) void store8(float* p, v8f v)
{
    std::memcpy(p, &v, sizeof v);
}

struct search_tables {
    std::size_t K, num_fine, num_coarse, num_uniform, pair_groups, F, ramp_groups;
    int levels, candidates;
    const float* table_re;
    const float* table_im;
    const std::int32_t* coarse;
    const float* base_re;
    const float* base_im;
    const float* pair_cos;
    const float* pair_sin;
    const std::int32_t* stride;
    const float* spread; // 2 pi |p_k - p_mid|
    const float* reach;  // per level: how far (in u) the remaining levels can move
    const float* const* ramp_cos;
    const float* const* ramp_sin;
};

/*
 * For each group g of 8 symmetric offsets +-d (tables [(g K + k) 8 + lane]):
 * C = sum_k w_k cos, S = sum_k w_k sin, and
 * plus[8 g + lane] = |C + jS|^2 (offset +d), minus[...] = |C - jS|^2 (offset -d).
 */
inline __attribute__((always_inline)) void symmetric_powers(const float* __restrict wr,
                                                            const float* __restrict wi,
                                                            const float* __restrict cos_t,
                                                            const float* __restrict sin_t,
                                                            std::size_t K,
                                                            std::size_t groups,
                                                            float* __restrict plus,
                                                            float* __restrict minus)
{
    for (std::size_t g = 0; g < groups; g++) {
        // Two partial sums (even / odd k): eight independent FMA chains hide the latency.
        v8f cr = {}, ci = {}, sr = {}, si = {}, cr1 = {}, ci1 = {}, sr1 = {}, si1 = {};
        const float* c = cos_t + g * K * lanes;
        const float* s = sin_t + g * K * lanes;
        std::size_t k = 0;
        for (; k + 1 < K; k += 2) {
            const v8f cv = load8(c + k * lanes), sv = load8(s + k * lanes);
            const v8f cv1 = load8(c + (k + 1) * lanes), sv1 = load8(s + (k + 1) * lanes);
            const float a = wr[k], b = wi[k], a1 = wr[k + 1], b1 = wi[k + 1];
            cr += a * cv;
            ci += b * cv;
            sr += a * sv;
            si += b * sv;
            cr1 += a1 * cv1;
            ci1 += b1 * cv1;
            sr1 += a1 * sv1;
            si1 += b1 * sv1;
        }
        if (k < K) {
            const v8f cv = load8(c + k * lanes), sv = load8(s + k * lanes);
            cr += wr[k] * cv;
            ci += wi[k] * cv;
            sr += wr[k] * sv;
            si += wi[k] * sv;
        }
        cr += cr1;
        ci += ci1;
        sr += sr1;
        si += si1;
        const v8f pr = cr - si, pi = ci + sr; // C + jS
        const v8f mr = cr + si, mi = ci - sr; // C - jS
        store8(plus + g * lanes, pr * pr + pi * pi);
        store8(minus + g * lanes, mr * mr + mi * mi);
    }
}

ISAC_AE_MULTIVERSION
std::size_t search_impl(const search_tables& t,
                        const gr_complex* z,
                        std::size_t n,
                        float* statistic,
                        std::int32_t* index)
{
    const std::size_t K = t.K;
    const std::size_t pair_pad = t.pair_groups * lanes, ramp_pad = t.ramp_groups * lanes;
    std::vector<float> scratch(4 * K + t.num_coarse + 2 * pair_pad + 2 * ramp_pad);
    float* __restrict zr = scratch.data();
    float* __restrict zi = zr + K;
    float* __restrict wr = zi + K;
    float* __restrict wi = wr + K;
    float* __restrict power = wi + K;
    float* __restrict plus = power + t.num_coarse;
    float* __restrict minus = plus + std::max(pair_pad, ramp_pad);
    std::vector<float> cand_val(t.candidates);
    std::vector<std::int32_t> cand_idx(t.candidates);
    const long F = static_cast<long>(t.F);
    const long num_fine = static_cast<long>(t.num_fine);
    const std::size_t nu = t.num_uniform;
    std::size_t bad = 0;

    for (std::size_t i = 0; i < n; i++) {
        const float* __restrict zf = reinterpret_cast<const float*>(z + i * K);
        float energy = 0.0f;
        for (std::size_t k = 0; k < K; k++) {
            zr[k] = zf[2 * k];
            zi[k] = zf[2 * k + 1];
            energy += zr[k] * zr[k] + zi[k] * zi[k];
        }
        if (!std::isfinite(energy)) { // NaN or Inf somewhere (or an overflowing snapshot)
            statistic[i] = 0.0f;
            index[i] = -1;
            bad++;
            continue;
        }

        // Coarse stage: the uniform points as symmetric pairs about u_mid ...
        for (std::size_t k = 0; k < K; k++) {
            wr[k] = t.base_re[k] * zr[k] - t.base_im[k] * zi[k];
            wi[k] = t.base_re[k] * zi[k] + t.base_im[k] * zr[k];
        }
        symmetric_powers(wr, wi, t.pair_cos, t.pair_sin, K, t.pair_groups, plus, minus);
        for (std::size_t m = 0; m < (nu + 1) / 2; m++) {
            power[m] = minus[m];
            power[nu - 1 - m] = plus[m];
        }
        // ... and an appended last point on its own.
        if (t.num_coarse > nu) {
            const float* ar = t.table_re + static_cast<std::size_t>(t.coarse[nu]) * K;
            const float* ai = t.table_im + static_cast<std::size_t>(t.coarse[nu]) * K;
            float re = 0.0f, im = 0.0f;
            for (std::size_t k = 0; k < K; k++) {
                re += ar[k] * zr[k] - ai[k] * zi[k];
                im += ar[k] * zi[k] + ai[k] * zr[k];
            }
            power[nu] = re * re + im * im;
        }

        // The best local maxima (>= both neighbours; outside the sector counts as -1).
        int found = 0;
        for (std::size_t j = 0; j < t.num_coarse; j++) {
            const float p = power[j];
            const float left = j > 0 ? power[j - 1] : -1.0f;
            const float right = j + 1 < t.num_coarse ? power[j + 1] : -1.0f;
            if (!(p >= left && p >= right)) {
                continue;
            }
            int pos = found;
            while (pos > 0 && p > cand_val[pos - 1]) { // equal values keep grid order
                pos--;
            }
            if (pos >= t.candidates) {
                continue;
            }
            for (int c = std::min(found, t.candidates - 1); c > pos; c--) {
                cand_val[c] = cand_val[c - 1];
                cand_idx[c] = cand_idx[c - 1];
            }
            cand_val[pos] = p;
            cand_idx[pos] = t.coarse[j];
            found = std::min(found + 1, t.candidates);
        }

        // Refine every candidate through every level; compare them at the end.
        // A candidate is dropped when it provably cannot beat the best refined one:
        // |g(u)| = |a(u)^H z| changes by at most slope * |u - u0|, with
        // slope = 2 pi sum_k |p_k - p_mid| |z_k| >= |d|g|/du|, and the remaining
        // levels reach at most reach[l] from the current centre. Exact: a dropped
        // candidate's refined value stays below the best (margin for float rounding).
        float slope = 0.0f;
        for (std::size_t k = 0; k < K; k++) {
            slope += t.spread[k] * std::sqrt(zr[k] * zr[k] + zi[k] * zi[k]);
        }
        float best_val = -1.0f;
        std::int32_t best_idx = -1;
        for (int c = 0; c < found; c++) {
            long centre = cand_idx[c];
            float val = cand_val[c];
            bool dropped = false;
            for (int l = 0; l < t.levels; l++) {
                if (c > 0) {
                    const float bound = std::sqrt(val) + slope * t.reach[l];
                    if (bound * bound * 1.001f < best_val) {
                        dropped = true;
                        break;
                    }
                }
                const float* __restrict ar = t.table_re + centre * K;
                const float* __restrict ai = t.table_im + centre * K;
                for (std::size_t k = 0; k < K; k++) {
                    wr[k] = ar[k] * zr[k] - ai[k] * zi[k];
                    wi[k] = ar[k] * zi[k] + ai[k] * zr[k];
                }
                symmetric_powers(
                    wr, wi, t.ramp_cos[l], t.ramp_sin[l], K, t.ramp_groups, plus, minus);
                // Offsets -F..F in grid order, inside the sector only; first maximum
                // wins.
                const long stride = t.stride[l];
                const long j_left = std::min(F, centre / stride);
                const long j_right = std::min(F, (num_fine - 1 - centre) / stride);
                for (long j = j_left + 1; j <= F; j++) {
                    minus[j] = -1.0f;
                }
                for (long j = j_right + 1; j <= F; j++) {
                    plus[j] = -1.0f;
                }
                v8f vmax = load8(plus);
                for (std::size_t g = 0; g < t.ramp_groups; g++) {
                    const v8f a = load8(plus + g * lanes), b = load8(minus + g * lanes);
                    vmax = vmax > a ? vmax : a;
                    vmax = vmax > b ? vmax : b;
                }
                float v = vmax[0];
                for (std::size_t q = 1; q < lanes; q++) {
                    v = std::max(v, vmax[q]);
                }
                // The first offset in grid order (-F..F) that reaches the maximum.
                long arg = centre;
                bool hit = false;
                for (long j = j_left; j >= 1; j--) {
                    if (minus[j] == v) {
                        arg = centre - j * stride;
                        hit = true;
                        break;
                    }
                }
                if (!hit) {
                    for (long j = 0; j <= j_right; j++) {
                        if (plus[j] == v) {
                            arg = centre + j * stride;
                            break;
                        }
                    }
                }
                centre = arg;
                val = v;
            }
            if (!dropped && val > best_val) {
                best_val = val;
                best_idx = static_cast<std::int32_t>(centre);
            }
        }
        statistic[i] = best_val;
        index[i] = best_idx;
    }
    return bad;
}

ISAC_AE_MULTIVERSION
std::size_t fine_impl(const float* table_re,
                      const float* table_im,
                      std::size_t num_fine,
                      std::size_t K,
                      const gr_complex* z,
                      std::size_t n,
                      float* statistic,
                      std::int32_t* index)
{
    std::size_t bad = 0;
    for (std::size_t i = 0; i < n; i++) {
        const float* __restrict zf = reinterpret_cast<const float*>(z + i * K);
        float energy = 0.0f;
        for (std::size_t k = 0; k < 2 * K; k++) {
            energy += zf[k] * zf[k];
        }
        if (!std::isfinite(energy)) {
            statistic[i] = 0.0f;
            index[i] = -1;
            bad++;
            continue;
        }
        float best = -1.0f;
        std::int32_t arg = -1;
        for (std::size_t g = 0; g < num_fine; g++) {
            const float* __restrict ar = table_re + g * K;
            const float* __restrict ai = table_im + g * K;
            float re = 0.0f, im = 0.0f;
            for (std::size_t k = 0; k < K; k++) {
                re += ar[k] * zf[2 * k] - ai[k] * zf[2 * k + 1];
                im += ar[k] * zf[2 * k + 1] + ai[k] * zf[2 * k];
            }
            const float p = re * re + im * im;
            if (p > best) {
                best = p;
                arg = static_cast<std::int32_t>(g);
            }
        }
        statistic[i] = best;
        index[i] = arg;
    }
    return bad;
}

constexpr double two_pi = 6.283185307179586;

// cos / sin of 2 pi p_k d_j in the [(g K + k) 8 + lane] layout, j = 8 g + lane < count;
// zero padding.
void symmetric_table(const std::vector<float>& positions,
                     std::size_t count,
                     double (*offset)(std::size_t, const void*),
                     const void* ctx,
                     std::vector<float>& c,
                     std::vector<float>& s)
{
    const std::size_t K = positions.size();
    const std::size_t groups = (count + lanes - 1) / lanes;
    c.assign(groups * K * lanes, 0.0f);
    s.assign(groups * K * lanes, 0.0f);
    for (std::size_t j = 0; j < count; j++) {
        const double d = offset(j, ctx);
        const std::size_t g = j / lanes, lane = j % lanes;
        for (std::size_t k = 0; k < K; k++) {
            const double phase = two_pi * (static_cast<double>(positions[k]) * d);
            c[(g * K + k) * lanes + lane] = static_cast<float>(std::cos(phase));
            s[(g * K + k) * lanes + lane] = static_cast<float>(std::sin(phase));
        }
    }
}

} // namespace

maprt_search::maprt_search(const std::vector<float>& positions,
                           double theta_min,
                           double theta_max,
                           double fine_step_u,
                           int refine_factor,
                           int levels,
                           int candidates)
    : d_K(positions.size()),
      d_theta_min(theta_min),
      d_theta_max(theta_max),
      d_refine(refine_factor),
      d_levels(levels),
      d_candidates(candidates)
{
    const double half_pi = 1.5707963267948966;
    if (positions.empty()) {
        throw std::invalid_argument(
            "maprt: positions must hold the K >= 1 element positions");
    }
    for (float p : positions) {
        if (!(std::abs(p) <= detail::max_abs_position)) { // also false for NaN
            throw std::invalid_argument(
                "maprt: element positions must be finite wavelengths within +-1e4");
        }
    }
    if (!(std::isfinite(theta_min) && std::isfinite(theta_max) &&
          theta_min <= theta_max && theta_min >= -half_pi - 1e-6 &&
          theta_max <= half_pi + 1e-6)) {
        throw std::invalid_argument(
            "maprt: the sector must satisfy -pi/2 <= theta_min <= theta_max <= pi/2 "
            "(radians), got [" +
            std::to_string(theta_min) + ", " + std::to_string(theta_max) + "]");
    }
    if (!(fine_step_u > 0.0 && std::isfinite(fine_step_u))) {
        throw std::invalid_argument("maprt: fine_step_u must be > 0");
    }
    if (refine_factor < 1 || levels < 0 || levels > 8 || candidates < 1) {
        throw std::invalid_argument(
            "maprt: need refine_factor >= 1, 0 <= levels <= 8 and candidates >= 1");
    }
    const double coarse_stride_d = std::pow(static_cast<double>(refine_factor), levels);
    if (coarse_stride_d > 1e9 || refine_factor > 4096) {
        throw std::invalid_argument("maprt: refine_factor ** levels is too large");
    }
    const double lo = std::sin(theta_min), hi = std::sin(theta_max);
    const double points = (hi - lo) / fine_step_u;
    // The tables hold num_fine x K complex floats: bound them (2^26 entries, 512 MiB).
    if (points > 5e7 || (points + 1.0) * static_cast<double>(d_K) > 67108864.0) {
        throw std::invalid_argument("maprt: the fine grid (" +
                                    std::to_string(std::llround(points + 1.0)) +
                                    " points x K = " + std::to_string(d_K) +
                                    ") would exceed 2^26 table entries; increase "
                                    "fine_step_u or narrow the sector");
    }
    // numpy.linspace(lo, hi, num_fine), as in the core.
    d_num_fine =
        std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(points - 1e-9)) + 1);
    d_step_u = d_num_fine > 1 ? (hi - lo) / static_cast<double>(d_num_fine - 1) : 0.0;
    d_u.resize(d_num_fine);
    d_theta.resize(d_num_fine);
    for (std::size_t i = 0; i < d_num_fine; i++) {
        d_u[i] = static_cast<double>(i) * d_step_u + lo;
    }
    if (d_num_fine > 1) {
        d_u.back() = hi;
    }
    const std::size_t K = d_K;
    d_table_re.resize(d_num_fine * K);
    d_table_im.resize(d_num_fine * K);
    for (std::size_t i = 0; i < d_num_fine; i++) {
        d_theta[i] = static_cast<float>(std::asin(d_u[i]));
        for (std::size_t k = 0; k < K; k++) {
            const double phase = two_pi * (d_u[i] * static_cast<double>(positions[k]));
            d_table_re[i * K + k] = static_cast<float>(std::cos(phase));
            d_table_im[i * K + k] = static_cast<float>(std::sin(phase));
        }
    }

    // Coarse grid: every coarse_stride-th point, plus the last one.
    const std::size_t coarse_stride = static_cast<std::size_t>(coarse_stride_d);
    for (std::size_t i = 0; i < d_num_fine; i += coarse_stride) {
        d_coarse.push_back(static_cast<std::int32_t>(i));
    }
    d_num_uniform = d_coarse.size();
    if (static_cast<std::size_t>(d_coarse.back()) != d_num_fine - 1) {
        d_coarse.push_back(static_cast<std::int32_t>(d_num_fine - 1));
    }
    // More candidates than coarse points cannot change the result (the core takes
    // min(candidates, coarse points) too); clamping bounds the per-call scratch.
    d_candidates = static_cast<int>(
        std::min<std::size_t>(static_cast<std::size_t>(candidates), d_coarse.size()));
    struct coarse_ctx {
        double h, stride_u;
    } cc{ 0.5 * static_cast<double>(d_num_uniform - 1),
          static_cast<double>(coarse_stride) * d_step_u };
    const double u_mid = lo + cc.h * cc.stride_u;
    d_base_re.resize(K);
    d_base_im.resize(K);
    for (std::size_t k = 0; k < K; k++) {
        const double phase = two_pi * (u_mid * static_cast<double>(positions[k]));
        d_base_re[k] = static_cast<float>(std::cos(phase));
        d_base_im[k] = static_cast<float>(std::sin(phase));
    }
    const std::size_t pairs = (d_num_uniform + 1) / 2; // pair m: points m and nu - 1 - m
    d_pair_groups = (pairs + lanes - 1) / lanes;
    symmetric_table(
        positions,
        pairs,
        [](std::size_t m, const void* p) {
            const auto* c = static_cast<const coarse_ctx*>(p);
            return (c->h - static_cast<double>(m)) * c->stride_u;
        },
        &cc,
        d_pair_cos,
        d_pair_sin);

    // Refinement levels: offsets j * stride, j = 0..F, on both sides of the centre.
    const std::size_t F = static_cast<std::size_t>(refine_factor);
    d_ramp_groups = (F + 1 + lanes - 1) / lanes;
    for (int l = 0; l < levels; l++) {
        const long stride = static_cast<long>(
            std::llround(std::pow(double(refine_factor), levels - 1 - l)));
        d_stride.push_back(static_cast<std::int32_t>(stride));
        struct level_ctx {
            long stride;
            double step;
        } lc{ stride, d_step_u };
        std::vector<float> c, s;
        symmetric_table(
            positions,
            F + 1,
            [](std::size_t j, const void* p) {
                const auto* c = static_cast<const level_ctx*>(p);
                return static_cast<double>(static_cast<long>(j) * c->stride) * c->step;
            },
            &lc,
            c,
            s);
        d_ramp_cos.push_back(std::move(c));
        d_ramp_sin.push_back(std::move(s));
    }
    // Slope bound of the pruning: |d|a(u)^H z|/du| <= 2 pi sum_k |p_k - p_mid| |z_k|.
    const auto [pmin, pmax] = std::minmax_element(positions.begin(), positions.end());
    const double p_mid = 0.5 * (static_cast<double>(*pmin) + static_cast<double>(*pmax));
    for (std::size_t k = 0; k < K; k++) {
        // rounded up by 1e-6 relative so that the float bound stays an upper bound
        d_spread.push_back(
            static_cast<float>(two_pi * std::abs(positions[k] - p_mid) * (1.0 + 1e-6)));
    }
    d_reach.assign(levels, 0.0f);
    double reach = 0.0;
    for (int l = levels - 1; l >= 0; l--) {
        reach += static_cast<double>(refine_factor) * d_stride[l] * d_step_u;
        d_reach[l] = static_cast<float>(reach * (1.0 + 1e-6));
    }
}

float maprt_search::theta(std::int32_t index) const
{
    if (index < 0 || static_cast<std::size_t>(index) >= d_num_fine) {
        return std::numeric_limits<float>::quiet_NaN();
    }
    return d_theta[index];
}

std::size_t maprt_search::search(const gr_complex* z,
                                 std::size_t n,
                                 float* statistic,
                                 std::int32_t* index) const
{
    std::vector<const float*> rc(d_levels), rs(d_levels);
    for (int l = 0; l < d_levels; l++) {
        rc[l] = d_ramp_cos[l].data();
        rs[l] = d_ramp_sin[l].data();
    }
    search_tables t;
    t.K = d_K;
    t.num_fine = d_num_fine;
    t.num_coarse = d_coarse.size();
    t.num_uniform = d_num_uniform;
    t.pair_groups = d_pair_groups;
    t.F = static_cast<std::size_t>(d_refine);
    t.ramp_groups = d_ramp_groups;
    t.levels = d_levels;
    t.candidates = d_candidates;
    t.table_re = d_table_re.data();
    t.table_im = d_table_im.data();
    t.coarse = d_coarse.data();
    t.base_re = d_base_re.data();
    t.base_im = d_base_im.data();
    t.pair_cos = d_pair_cos.data();
    t.pair_sin = d_pair_sin.data();
    t.stride = d_stride.data();
    t.spread = d_spread.data();
    t.reach = d_reach.data();
    t.ramp_cos = rc.data();
    t.ramp_sin = rs.data();
    return search_impl(t, z, n, statistic, index);
}

std::size_t maprt_search::fine_search(const gr_complex* z,
                                      std::size_t n,
                                      float* statistic,
                                      std::int32_t* index) const
{
    return fine_impl(
        d_table_re.data(), d_table_im.data(), d_num_fine, d_K, z, n, statistic, index);
}

} // namespace isac_ae
} // namespace gr
