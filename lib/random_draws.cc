/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "fast_math.h"
#include "random_draws.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace gr {
namespace isac_ae {
namespace detail {

namespace {

std::uint64_t splitmix64(std::uint64_t& x)
{
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

inline std::uint32_t rotl(std::uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

ISAC_AE_MULTIVERSION
void xoshiro_block(std::uint32_t (*__restrict s)[uniform_stream::lanes],
                   std::uint32_t* __restrict out)
{
    constexpr std::size_t L = uniform_stream::lanes;
    std::uint32_t s0[L], s1[L], s2[L], s3[L];
    for (std::size_t l = 0; l < L; l++) {
        s0[l] = s[0][l];
        s1[l] = s[1][l];
        s2[l] = s[2][l];
        s3[l] = s[3][l];
    }
    for (std::size_t step = 0; step < uniform_stream::steps; step++) {
        std::uint32_t* o = out + step * L;
        for (std::size_t l = 0; l < L; l++) { // xoshiro128++, one generator per lane
            o[l] = rotl(s0[l] + s3[l], 7) + s0[l];
            const std::uint32_t t = s1[l] << 9;
            s2[l] ^= s0[l];
            s3[l] ^= s1[l];
            s1[l] ^= s2[l];
            s0[l] ^= s3[l];
            s2[l] ^= t;
            s3[l] = rotl(s3[l], 11);
        }
    }
    for (std::size_t l = 0; l < L; l++) {
        s[0][l] = s0[l];
        s[1][l] = s1[l];
        s[2][l] = s2[l];
        s[3][l] = s3[l];
    }
}

// Box-Muller without rejection: |n|^2 = -ln(u1) ~ Exp(1), arg(n) = 2 pi u2, so
// n ~ CN(0, 1). u1 has 31 random bits: |n|^2 reaches 22.2 (tail mass 2e-10 cut).
inline void
complex_normal(std::uint32_t w1, std::uint32_t w2, float scale, float& re, float& im)
{
    const float r = scale * std::sqrt(neg_log(open_uniform(w1)));
    float c, s;
    sincos_turns(unit_uniform(w2), c, s);
    re = r * c;
    im = r * s;
}

} // namespace

uniform_stream::uniform_stream(std::uint64_t seed) : d_pos(block)
{
    std::uint64_t x = seed;
    for (std::size_t l = 0; l < lanes; l++) {
        std::uint32_t any = 0;
        do {
            const std::uint64_t a = splitmix64(x), b = splitmix64(x);
            d_state[0][l] = static_cast<std::uint32_t>(a);
            d_state[1][l] = static_cast<std::uint32_t>(a >> 32);
            d_state[2][l] = static_cast<std::uint32_t>(b);
            d_state[3][l] = static_cast<std::uint32_t>(b >> 32);
            any = d_state[0][l] | d_state[1][l] | d_state[2][l] | d_state[3][l];
        } while (any == 0); // the all-zero state is a fixed point
    }
}

void uniform_stream::refill()
{
    xoshiro_block(d_state, d_buf);
    d_pos = 0;
}

void uniform_stream::take(std::uint32_t* out, std::size_t n)
{
    while (n > 0) {
        if (d_pos == block) {
            refill();
        }
        const std::size_t m = std::min(n, block - d_pos);
        std::copy(d_buf + d_pos, d_buf + d_pos + m, out);
        d_pos += m;
        out += m;
        n -= m;
    }
}

std::uint64_t resolve_seed(std::int64_t seed, std::uint64_t salt)
{
    std::uint64_t base;
    if (seed < 0) {
        std::random_device rd;
        base = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    } else {
        base = static_cast<std::uint64_t>(seed);
    }
    std::uint64_t x = salt;
    return base ^ splitmix64(x);
}

ISAC_AE_MULTIVERSION
void radar_draws(const std::uint32_t* words,
                 std::size_t n,
                 std::size_t K,
                 float theta_lo,
                 float theta_hi,
                 float p_target,
                 float alpha_std,
                 std::uint8_t* target,
                 float* theta,
                 gr_complex* alpha,
                 gr_complex* noise)
{
    const std::size_t R = radar_words_per_item(K);
    const float width = theta_hi - theta_lo;
    for (std::size_t i = 0; i < n; i++) {
        const std::uint32_t* w = words + i * R;
        const bool t = unit_uniform(w[0]) < p_target;
        target[i] = t ? 1 : 0;
        theta[i] = theta_lo + width * unit_uniform(w[1]);
        float ar, ai;
        complex_normal(w[2], w[3], t ? alpha_std : 0.0f, ar, ai);
        alpha[i] = gr_complex(ar, ai);
        const std::uint32_t* __restrict w1 = w + 4;
        const std::uint32_t* __restrict w2 = w + 4 + K;
        float* __restrict out = reinterpret_cast<float*>(noise + i * K);
        for (std::size_t k = 0; k < K; k++) {
            float re, im;
            complex_normal(w1[k], w2[k], 1.0f, re, im);
            out[2 * k] = re;
            out[2 * k + 1] = im;
        }
    }
}

ISAC_AE_MULTIVERSION
void comm_draws(const std::uint32_t* words,
                std::size_t n,
                float theta_lo,
                float theta_hi,
                float beta_std,
                float* vartheta,
                gr_complex* beta,
                gr_complex* noise)
{
    const float width = theta_hi - theta_lo;
    float* __restrict b = reinterpret_cast<float*>(beta);
    float* __restrict z = reinterpret_cast<float*>(noise);
    for (std::size_t i = 0; i < n; i++) {
        const std::uint32_t* w = words + i * comm_words_per_item;
        vartheta[i] = theta_lo + width * unit_uniform(w[0]);
        complex_normal(w[1], w[2], beta_std, b[2 * i], b[2 * i + 1]);
        complex_normal(w[3], w[4], 1.0f, z[2 * i], z[2 * i + 1]);
    }
}

} // namespace detail
} // namespace isac_ae
} // namespace gr
