/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_ISAC_AE_COMM_CHANNEL_IMPL_H
#define INCLUDED_ISAC_AE_COMM_CHANNEL_IMPL_H

#include "params.h"
#include "random_draws.h"
#include <gnuradio/isac_ae/comm_channel.h>

namespace gr {
namespace isac_ae {

class comm_channel_impl : public comm_channel
{
private:
    const int d_K;
    const std::vector<float> d_positions;
    detail::channel_settings d_settings;
    detail::uniform_stream d_stream;
    std::vector<std::uint32_t> d_words;
    std::vector<gr_complex> d_beta, d_noise;

public:
    comm_channel_impl(int K,
                      const std::vector<float>& positions,
                      float snr_db,
                      double min_deg,
                      double max_deg,
                      int64_t seed);

    void set_snr_db(float snr_db) override { d_settings.set_snr_db(snr_db); }
    float snr_db() const override { return d_settings.get().snr_db; }
    void set_sector(double min_deg, double max_deg) override
    {
        d_settings.set_sector(min_deg, max_deg);
    }
    std::vector<double> sector() const override
    {
        const auto s = d_settings.get();
        return { s.min_deg, s.max_deg };
    }
    std::vector<float> positions() const override { return d_positions; }

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_COMM_CHANNEL_IMPL_H */
