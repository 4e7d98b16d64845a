/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_ISAC_AE_RADAR_CHANNEL_IMPL_H
#define INCLUDED_ISAC_AE_RADAR_CHANNEL_IMPL_H

#include "params.h"
#include "random_draws.h"
#include <gnuradio/isac_ae/radar_channel.h>

namespace gr {
namespace isac_ae {

class radar_channel_impl : public radar_channel
{
private:
    const int d_K;
    const std::vector<float> d_positions;
    detail::channel_settings d_settings;
    float d_p_target;
    detail::uniform_stream d_stream;
    std::size_t d_chunk; // items per draw batch (bounded scratch for large K)
    std::vector<std::uint32_t> d_words;
    std::vector<gr_complex> d_alpha;

public:
    radar_channel_impl(int K,
                       const std::vector<float>& positions,
                       float snr_db,
                       double min_deg,
                       double max_deg,
                       float p_target,
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
    void set_p_target(float p_target) override;
    float p_target() const override { return d_p_target; }
    std::vector<float> positions() const override { return d_positions; }

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_RADAR_CHANNEL_IMPL_H */
