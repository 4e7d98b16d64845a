/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "comm_channel_impl.h"
#include "params.h"
#include <gnuradio/io_signature.h>
#include <gnuradio/isac_ae/channel_kernels.h>
#include <algorithm>

namespace gr {
namespace isac_ae {

namespace {
constexpr std::size_t max_chunk = 1024;
constexpr std::uint64_t comm_salt = 0x636f6d6d5f636831ull; // "comm_ch1"
} // namespace

comm_channel::sptr comm_channel::make(int K,
                                      const std::vector<float>& positions,
                                      float snr_db,
                                      double min_deg,
                                      double max_deg,
                                      int64_t seed)
{
    return gnuradio::make_block_sptr<comm_channel_impl>(
        K, positions, snr_db, min_deg, max_deg, seed);
}

comm_channel_impl::comm_channel_impl(int K,
                                     const std::vector<float>& positions,
                                     float snr_db,
                                     double min_deg,
                                     double max_deg,
                                     int64_t seed)
    : gr::sync_block(
          "comm_channel",
          gr::io_signature::make(2, 2, sizeof(gr_complex) * std::max(K, 1)),
          gr::io_signature::makev(
              3, 3, { sizeof(gr_complex), sizeof(gr_complex), sizeof(float) })),
      d_K(K),
      d_positions(detail::resolve_positions("comm_channel", K, positions)),
      d_settings("comm_channel", snr_db, min_deg, max_deg),
      d_stream(detail::resolve_seed(seed, comm_salt)),
      d_words(max_chunk * detail::comm_words_per_item),
      d_beta(max_chunk),
      d_noise(max_chunk)
{
}

int comm_channel_impl::work(int noutput_items,
                            gr_vector_const_void_star& input_items,
                            gr_vector_void_star& output_items)
{
    const gr_complex* y = static_cast<const gr_complex*>(input_items[0]);
    const gr_complex* v = static_cast<const gr_complex*>(input_items[1]);
    gr_complex* z = static_cast<gr_complex*>(output_items[0]);
    gr_complex* kappa = static_cast<gr_complex*>(output_items[1]);
    float* vartheta = static_cast<float*>(output_items[2]);

    const auto settings = d_settings.get();
    const float lo = settings.theta_min, hi = settings.theta_max;
    const float beta_std = detail::gain_std(settings.snr_db);
    const std::size_t K = static_cast<std::size_t>(d_K);
    const std::size_t n = static_cast<std::size_t>(noutput_items);
    for (std::size_t i0 = 0; i0 < n; i0 += max_chunk) {
        const std::size_t m = std::min(max_chunk, n - i0);
        d_stream.take(d_words.data(), m * detail::comm_words_per_item);
        detail::comm_draws(d_words.data(),
                           m,
                           lo,
                           hi,
                           beta_std,
                           vartheta + i0,
                           d_beta.data(),
                           d_noise.data());
        comm_observation(y + i0 * K,
                         v + i0 * K,
                         vartheta + i0,
                         d_beta.data(),
                         d_noise.data(),
                         m,
                         d_positions.data(),
                         K,
                         z + i0,
                         kappa + i0);
    }
    return noutput_items;
}

} // namespace isac_ae
} // namespace gr
