/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "params.h"
#include "radar_channel_impl.h"
#include <gnuradio/io_signature.h>
#include <gnuradio/isac_ae/channel_kernels.h>
#include <algorithm>

namespace gr {
namespace isac_ae {

namespace {
constexpr std::size_t max_chunk = 512;
constexpr std::size_t max_words = 1 << 18; // 1 MiB of random words per batch
constexpr std::uint64_t radar_salt = 0x72616461725f6331ull; // "radar_c1"
} // namespace

radar_channel::sptr radar_channel::make(int K,
                                        const std::vector<float>& positions,
                                        float snr_db,
                                        double min_deg,
                                        double max_deg,
                                        float p_target,
                                        int64_t seed)
{
    return gnuradio::make_block_sptr<radar_channel_impl>(
        K, positions, snr_db, min_deg, max_deg, p_target, seed);
}

radar_channel_impl::radar_channel_impl(int K,
                                       const std::vector<float>& positions,
                                       float snr_db,
                                       double min_deg,
                                       double max_deg,
                                       float p_target,
                                       int64_t seed)
    : gr::sync_block(
          "radar_channel",
          gr::io_signature::make(1, 1, sizeof(gr_complex) * std::max(K, 1)),
          gr::io_signature::makev(3,
                                  3,
                                  { static_cast<int>(sizeof(gr_complex)) * std::max(K, 1),
                                    1,
                                    sizeof(float) })),
      d_K(K),
      d_positions(detail::resolve_positions("radar_channel", K, positions)),
      d_settings("radar_channel", snr_db, min_deg, max_deg),
      d_p_target(p_target),
      d_stream(detail::resolve_seed(seed, radar_salt)),
      d_chunk(std::max<std::size_t>(
          1,
          std::min(max_chunk, max_words / detail::radar_words_per_item(std::max(K, 1))))),
      d_words(d_chunk * detail::radar_words_per_item(std::max(K, 1))),
      d_alpha(d_chunk)
{
    detail::check_probability("radar_channel", p_target);
}

void radar_channel_impl::set_p_target(float p_target)
{
    detail::check_probability("radar_channel", p_target);
    gr::thread::scoped_lock guard(d_setlock);
    d_p_target = p_target;
}

int radar_channel_impl::work(int noutput_items,
                             gr_vector_const_void_star& input_items,
                             gr_vector_void_star& output_items)
{
    const gr_complex* y = static_cast<const gr_complex*>(input_items[0]);
    gr_complex* z = static_cast<gr_complex*>(output_items[0]);
    std::uint8_t* target = static_cast<std::uint8_t*>(output_items[1]);
    float* theta = static_cast<float*>(output_items[2]);

    const auto settings = d_settings.get();
    const float lo = settings.theta_min, hi = settings.theta_max;
    float p;
    {
        gr::thread::scoped_lock guard(d_setlock);
        p = d_p_target;
    }
    const float alpha_std = detail::gain_std(settings.snr_db);
    const std::size_t K = static_cast<std::size_t>(d_K);
    const std::size_t n = static_cast<std::size_t>(noutput_items);
    const std::size_t words = detail::radar_words_per_item(K);
    for (std::size_t i0 = 0; i0 < n; i0 += d_chunk) {
        const std::size_t m = std::min(d_chunk, n - i0);
        d_stream.take(d_words.data(), m * words);
        // The noise goes straight to the output; the echo is added in place.
        detail::radar_draws(d_words.data(),
                            m,
                            K,
                            lo,
                            hi,
                            p,
                            alpha_std,
                            target + i0,
                            theta + i0,
                            d_alpha.data(),
                            z + i0 * K);
        radar_observation(y + i0 * K,
                          theta + i0,
                          d_alpha.data(),
                          z + i0 * K,
                          m,
                          d_positions.data(),
                          K,
                          z + i0 * K);
    }
    return noutput_items;
}

} // namespace isac_ae
} // namespace gr
