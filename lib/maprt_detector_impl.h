/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_ISAC_AE_MAPRT_DETECTOR_IMPL_H
#define INCLUDED_ISAC_AE_MAPRT_DETECTOR_IMPL_H

#include <gnuradio/isac_ae/maprt_detector.h>
#include <gnuradio/isac_ae/maprt_kernel.h>
#include <atomic>

namespace gr {
namespace isac_ae {

class maprt_detector_impl : public maprt_detector
{
private:
    const std::vector<float> d_positions;
    const maprt_search d_search;
    std::atomic<float> d_threshold;
    std::atomic<bool> d_warned;
    std::vector<std::int32_t> d_index;

public:
    maprt_detector_impl(int K,
                        const std::vector<float>& positions,
                        double theta_min,
                        double theta_max,
                        float threshold,
                        double fine_step_u,
                        int refine_factor,
                        int levels,
                        int candidates);

    void set_threshold(float threshold) override;
    float threshold() const override { return d_threshold.load(); }
    std::vector<float> positions() const override { return d_positions; }
    std::vector<double> sector() const override { return { d_search.theta_min(), d_search.theta_max() }; }

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_MAPRT_DETECTOR_IMPL_H */
