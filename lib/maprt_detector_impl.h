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
#include <memory>
#include <mutex>

namespace gr {
namespace isac_ae {

class maprt_detector_impl : public maprt_detector
{
private:
    // What work() reads: replaced as a whole under d_mutex, never modified in place.
    struct state {
        std::shared_ptr<const maprt_search> search;
        float threshold;
        double min_deg, max_deg;
    };

    const std::vector<float> d_positions;
    const double d_fine_step_u;
    const int d_refine_factor, d_levels, d_candidates;
    mutable std::mutex d_mutex;
    state d_state;
    std::atomic<bool> d_warned;
    std::vector<std::int32_t> d_index;

    std::shared_ptr<const maprt_search> make_search(double min_deg, double max_deg) const;
    state current() const;

public:
    maprt_detector_impl(int K,
                        const std::vector<float>& positions,
                        double min_deg,
                        double max_deg,
                        float threshold,
                        double fine_step_u,
                        int refine_factor,
                        int levels,
                        int candidates);

    void set_threshold(float threshold) override;
    float threshold() const override { return current().threshold; }
    void set_sector(double min_deg, double max_deg) override;
    void set_sector(double min_deg, double max_deg, float threshold) override;
    std::vector<double> sector() const override;
    std::vector<float> positions() const override { return d_positions; }

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_MAPRT_DETECTOR_IMPL_H */
