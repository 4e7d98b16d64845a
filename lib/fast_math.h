/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Internal (not installed): branch-free float maths that GCC vectorises, and the
 * multiversioning attribute of the hot loops. Accuracy: sincos_turns and neg_log
 * are the Cephes single-precision polynomials, a few ulp on their reduced ranges.
 */

#ifndef INCLUDED_ISAC_AE_FAST_MATH_H
#define INCLUDED_ISAC_AE_FAST_MATH_H

#include <cstdint>
#include <cstring>

// Hot loops are compiled twice, for x86-64-v3 (AVX2 + FMA) and for the baseline
// ISA, and the loader picks one (GCC function multiversioning through ifunc).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define ISAC_AE_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define ISAC_AE_MULTIVERSION
#endif

namespace gr {
namespace isac_ae {
namespace detail {

inline float bits_to_float(std::uint32_t b)
{
    float f;
    std::memcpy(&f, &b, sizeof f);
    return f;
}

inline std::uint32_t float_to_bits(float f)
{
    std::uint32_t b;
    std::memcpy(&b, &f, sizeof b);
    return b;
}

/*!
 * cos(2 pi x) and sin(2 pi x), x in turns, |x| < 2^20.
 * The reduction is exact: 4x is exact, q is an integer near 4x, 4x - q is exact,
 * so the error does not grow with |x| (beyond the rounding already in x).
 */
inline void sincos_turns(float x, float& c, float& s)
{
    const float t = 4.0f * x;
    // Round to an integer by truncating t +- 1/2 (vectorises on plain SSE2; no
    // dependence on the rounding mode or on value-unsafe optimisation flags).
    const int qi = static_cast<int>(t + (t < 0.0f ? -0.5f : 0.5f));
    const float f = t - static_cast<float>(qi); // in about [-1/2, 1/2]
    const float r = f * 1.57079632679489662f;   // |r| <= pi/4
    const float z = r * r;
    const float sr =
        ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * r + r;
    const float cr = ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z +
                      4.166664568298827e-2f) *
                         z * z -
                     0.5f * z + 1.0f;
    const int q = qi & 3; // quadrant, also for negative qi (two's complement)
    const float cs = (q & 1) ? sr : cr;
    const float ss = (q & 1) ? cr : sr;
    c = (q == 1 || q == 2) ? -cs : cs;
    s = (q >= 2) ? -ss : ss;
}

/*! -ln(u) for u in (0, 1] (a normal float); Cephes logf. */
inline float neg_log(float u)
{
    const std::uint32_t b = float_to_bits(u);
    int e = static_cast<int>(b >> 23) - 127;
    float m = bits_to_float((b & 0x007fffffu) | 0x3f800000u); // [1, 2)
    const bool big = m > 1.41421356237f;
    m = big ? 0.5f * m : m; // [sqrt(1/2), sqrt(2))
    e = big ? e + 1 : e;
    const float fe = static_cast<float>(e);
    const float x = m - 1.0f;
    const float z = x * x;
    float y = 7.0376836292e-2f * x - 1.1514610310e-1f;
    y = y * x + 1.1676998740e-1f;
    y = y * x - 1.2420140846e-1f;
    y = y * x + 1.4249322787e-1f;
    y = y * x - 1.6668057665e-1f;
    y = y * x + 2.0000714765e-1f;
    y = y * x - 2.4999993993e-1f;
    y = y * x + 3.3333331174e-1f;
    y = y * x * z;
    y += -2.12194440e-4f * fe;
    y += -0.5f * z;
    float r = x + y;
    r += 0.693359375f * fe;
    r = -r;
    return r > 0.0f ? r : 0.0f;
}

/*! Uniform in [0, 1) with 24 random bits, like torch.rand. */
inline float unit_uniform(std::uint32_t w)
{
    return static_cast<float>(static_cast<std::int32_t>(w >> 8)) *
           5.9604644775390625e-8f; // 2^-24
}

/*! Uniform in (0, 1] with 31 random bits, for the logarithm of Box-Muller (no log(0)). */
inline float open_uniform(std::uint32_t w)
{
    return static_cast<float>(static_cast<std::int32_t>(w >> 1)) *
               4.656612873077393e-10f + // 2^-31
           2.3283064365386963e-10f;     // 2^-32
}

} // namespace detail
} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_FAST_MATH_H */
