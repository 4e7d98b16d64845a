/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "maprt_detector_impl.h"
#include "params.h"
#include <gnuradio/io_signature.h>
#include <cmath>
#include <stdexcept>

namespace gr {
namespace isac_ae {

namespace {
void check_threshold(float threshold)
{
    if (std::isnan(threshold)) {
        throw std::invalid_argument("maprt_detector: the threshold must not be NaN");
    }
}
} // namespace

maprt_detector::sptr maprt_detector::make(int K,
                                          const std::vector<float>& positions,
                                          double min_deg,
                                          double max_deg,
                                          float threshold,
                                          double fine_step_u,
                                          int refine_factor,
                                          int levels,
                                          int candidates)
{
    return gnuradio::make_block_sptr<maprt_detector_impl>(K,
                                                          positions,
                                                          min_deg,
                                                          max_deg,
                                                          threshold,
                                                          fine_step_u,
                                                          refine_factor,
                                                          levels,
                                                          candidates);
}

maprt_detector_impl::maprt_detector_impl(int K,
                                         const std::vector<float>& positions,
                                         double min_deg,
                                         double max_deg,
                                         float threshold,
                                         double fine_step_u,
                                         int refine_factor,
                                         int levels,
                                         int candidates)
    : gr::sync_block("maprt_detector",
                     gr::io_signature::make(1, 1, sizeof(gr_complex) * std::max(K, 1)),
                     gr::io_signature::makev(3, 3, { sizeof(float), sizeof(float), 1 })),
      d_positions(detail::resolve_positions("maprt_detector", K, positions)),
      d_fine_step_u(fine_step_u),
      d_refine_factor(refine_factor),
      d_levels(levels),
      d_candidates(candidates),
      d_warned(false)
{
    check_threshold(threshold);
    d_state = state{ make_search(min_deg, max_deg), threshold, min_deg, max_deg };
}

std::shared_ptr<const maprt_search> maprt_detector_impl::make_search(double min_deg,
                                                                     double max_deg) const
{
    detail::check_sector_deg("maprt_detector", min_deg, max_deg);
    return std::make_shared<const maprt_search>(d_positions,
                                                detail::radians(min_deg),
                                                detail::radians(max_deg),
                                                d_fine_step_u,
                                                d_refine_factor,
                                                d_levels,
                                                d_candidates);
}

maprt_detector_impl::state maprt_detector_impl::current() const
{
    std::lock_guard<std::mutex> guard(d_mutex);
    return d_state;
}

void maprt_detector_impl::set_threshold(float threshold)
{
    check_threshold(threshold);
    std::lock_guard<std::mutex> guard(d_mutex);
    d_state.threshold = threshold;
}

void maprt_detector_impl::set_sector(double min_deg, double max_deg)
{
    auto search =
        make_search(min_deg, max_deg); // outside the lock: work() is not held up
    std::lock_guard<std::mutex> guard(d_mutex);
    d_state = state{ std::move(search), d_state.threshold, min_deg, max_deg };
}

void maprt_detector_impl::set_sector(double min_deg, double max_deg, float threshold)
{
    check_threshold(threshold);
    auto search = make_search(min_deg, max_deg);
    std::lock_guard<std::mutex> guard(d_mutex);
    d_state = state{ std::move(search), threshold, min_deg, max_deg };
}

std::vector<double> maprt_detector_impl::sector() const
{
    const state s = current();
    return { s.min_deg, s.max_deg };
}

int maprt_detector_impl::work(int noutput_items,
                              gr_vector_const_void_star& input_items,
                              gr_vector_void_star& output_items)
{
    const gr_complex* z = static_cast<const gr_complex*>(input_items[0]);
    float* statistic = static_cast<float*>(output_items[0]);
    float* theta = static_cast<float*>(output_items[1]);
    std::uint8_t* detection = static_cast<std::uint8_t*>(output_items[2]);
    const std::size_t n = static_cast<std::size_t>(noutput_items);
    if (d_index.size() < n) {
        d_index.resize(n);
    }
    const state s = current(); // one (sector, threshold) pair for the whole call
    const std::size_t bad = s.search->search(z, n, statistic, d_index.data());
    for (std::size_t i = 0; i < n; i++) {
        theta[i] = s.search->theta(d_index[i]); // NaN for a non-finite snapshot
        detection[i] = (d_index[i] >= 0 && statistic[i] > s.threshold) ? 1 : 0;
    }
    if (bad > 0 && !d_warned.exchange(true)) {
        d_logger->warn(
            "{} snapshot(s) with a NaN or infinite sample: statistic 0, theta_hat NaN, "
            "detection 0 (this warning is shown once)",
            bad);
    }
    return noutput_items;
}

} // namespace isac_ae
} // namespace gr
