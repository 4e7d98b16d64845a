/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Internal (not installed): the random draws of the channel blocks.
 *
 * One seeded stream of 32-bit words (16 interleaved xoshiro128++ generators,
 * refilled a block at a time so the loop vectorises). Every item consumes a
 * fixed number of words, so the output depends on the seed only, never on how
 * the scheduler splits the stream into work() calls.
 */

#ifndef INCLUDED_ISAC_AE_RANDOM_DRAWS_H
#define INCLUDED_ISAC_AE_RANDOM_DRAWS_H

#include <gnuradio/gr_complex.h>
#include <cstddef>
#include <cstdint>

namespace gr {
namespace isac_ae {
namespace detail {

class uniform_stream
{
public:
    static constexpr std::size_t lanes = 16;
    static constexpr std::size_t steps = 64;
    static constexpr std::size_t block = lanes * steps;

    /*! seed: the block's seed already mixed with its salt (see resolve_seed). */
    explicit uniform_stream(std::uint64_t seed);

    /*! Copy the next n words of the stream to out. */
    void take(std::uint32_t* out, std::size_t n);

private:
    void refill();

    alignas(64) std::uint32_t d_state[4][lanes];
    alignas(64) std::uint32_t d_buf[block];
    std::size_t d_pos;
};

/*!
 * The stream seed of a block: seed >= 0 is deterministic; seed < 0 draws one from
 * std::random_device. The salt separates block types, so that a radar and a comm
 * channel given the same seed do not see the same words.
 */
std::uint64_t resolve_seed(std::int64_t seed, std::uint64_t salt);

/*! Words per item of the radar channel: t, theta, alpha (2), noise (2K). */
inline std::size_t radar_words_per_item(std::size_t K) { return 4 + 2 * K; }

/*! Words per item of the comm channel: vartheta, beta (2), noise (2). */
constexpr std::size_t comm_words_per_item = 5;

/*!
 * Radar draws of n items from their words (radar_words_per_item(K) each):
 * t ~ Bernoulli(p_target), theta ~ U[theta_lo, theta_hi), alpha ~ CN(0, alpha_std^2)
 * (written as t * alpha, zero without a target), noise ~ CN(0, I_K) (n x K).
 */
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
                 gr_complex* noise);

/*!
 * Comm draws of n items from their words (comm_words_per_item each):
 * vartheta ~ U[lo, hi), beta ~ CN(0, beta_std^2), noise ~ CN(0, 1).
 */
void comm_draws(const std::uint32_t* words,
                std::size_t n,
                float theta_lo,
                float theta_hi,
                float beta_std,
                float* vartheta,
                gr_complex* beta,
                gr_complex* noise);

} // namespace detail
} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_RANDOM_DRAWS_H */
