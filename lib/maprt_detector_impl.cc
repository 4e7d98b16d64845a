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
                                          double theta_min,
                                          double theta_max,
                                          float threshold,
                                          double fine_step_u,
                                          int refine_factor,
                                          int levels,
                                          int candidates)
{
    return gnuradio::make_block_sptr<maprt_detector_impl>(
        K, positions, theta_min, theta_max, threshold, fine_step_u, refine_factor, levels, candidates);
}

maprt_detector_impl::maprt_detector_impl(int K,
                                         const std::vector<float>& positions,
                                         double theta_min,
                                         double theta_max,
                                         float threshold,
                                         double fine_step_u,
                                         int refine_factor,
                                         int levels,
                                         int candidates)
    : gr::sync_block("maprt_detector",
                     gr::io_signature::make(1, 1, sizeof(gr_complex) * std::max(K, 1)),
                     gr::io_signature::makev(3, 3, { sizeof(float), sizeof(float), 1 })),
      d_positions(detail::resolve_positions("maprt_detector", K, positions)),
      d_search(d_positions,
               theta_min,
               theta_max,
               fine_step_u,
               refine_factor,
               levels,
               candidates),
      d_threshold(threshold),
      d_warned(false)
{
    check_threshold(threshold);
}

void maprt_detector_impl::set_threshold(float threshold)
{
    check_threshold(threshold);
    d_threshold.store(threshold);
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
    const std::size_t bad = d_search.search(z, n, statistic, d_index.data());
    const float threshold = d_threshold.load();
    for (std::size_t i = 0; i < n; i++) {
        theta[i] = d_search.theta(d_index[i]); // NaN for a non-finite snapshot
        detection[i] = (d_index[i] >= 0 && statistic[i] > threshold) ? 1 : 0;
    }
    if (bad > 0 && !d_warned.exchange(true)) {
        d_logger->warn("{} snapshot(s) with a NaN or infinite sample: statistic 0, theta_hat NaN, "
                       "detection 0 (this warning is shown once)",
                       bad);
    }
    return noutput_items;
}

} // namespace isac_ae
} // namespace gr
