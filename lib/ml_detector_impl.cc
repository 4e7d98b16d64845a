/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "ml_detector_impl.h"
#include <gnuradio/io_signature.h>
#include <gnuradio/isac_ae/ml_detector_kernel.h>
#include <cmath>
#include <stdexcept>
#include <string>

namespace gr {
namespace isac_ae {

namespace {

void check_constellation(const std::vector<gr_complex>& constellation)
{
    if (constellation.empty() || constellation.size() > 256) {
        throw std::invalid_argument(
            "ml_detector: the constellation must have 1 to 256 points "
            "(the message index is a byte), got " +
            std::to_string(constellation.size()));
    }
    for (const auto& c : constellation) {
        if (!std::isfinite(c.real()) || !std::isfinite(c.imag())) {
            throw std::invalid_argument("ml_detector: the constellation must be finite");
        }
    }
}

inline bool finite(const gr_complex& c)
{
    return std::isfinite(c.real()) && std::isfinite(c.imag());
}

} // namespace

ml_detector::sptr ml_detector::make(const std::vector<gr_complex>& constellation)
{
    return gnuradio::make_block_sptr<ml_detector_impl>(constellation);
}

ml_detector_impl::ml_detector_impl(const std::vector<gr_complex>& constellation)
    : gr::sync_block("ml_detector",
                     gr::io_signature::make(2, 2, sizeof(gr_complex)),
                     gr::io_signature::make(1, 1, sizeof(std::uint8_t))),
      d_constellation(constellation),
      d_warned(false)
{
    check_constellation(constellation);
}

void ml_detector_impl::set_constellation(const std::vector<gr_complex>& constellation)
{
    check_constellation(constellation);
    gr::thread::scoped_lock guard(d_setlock);
    d_constellation = constellation;
}

std::vector<gr_complex> ml_detector_impl::constellation() const
{
    gr::thread::scoped_lock guard(const_cast<ml_detector_impl*>(this)->d_setlock);
    return d_constellation;
}

int ml_detector_impl::work(int noutput_items,
                           gr_vector_const_void_star& input_items,
                           gr_vector_void_star& output_items)
{
    const gr_complex* z = static_cast<const gr_complex*>(input_items[0]);
    const gr_complex* kappa = static_cast<const gr_complex*>(input_items[1]);
    std::uint8_t* out = static_cast<std::uint8_t*>(output_items[0]);
    {
        gr::thread::scoped_lock guard(d_setlock);
        ml_detect(
            z, kappa, noutput_items, d_constellation.data(), d_constellation.size(), out);
    }
    std::size_t bad = 0;
    for (int i = 0; i < noutput_items; i++) {
        if (!finite(z[i]) || !finite(kappa[i])) {
            out[i] =
                0; // defined output; the kernel's comparisons are all false on NaN anyway
            bad++;
        }
    }
    if (bad > 0 && !d_warned.exchange(true)) {
        d_logger->warn(
            "{} input item(s) with a NaN or infinite z_c or kappa: detected as message 0 "
            "(this warning is shown once)",
            bad);
    }
    return noutput_items;
}

} // namespace isac_ae
} // namespace gr
