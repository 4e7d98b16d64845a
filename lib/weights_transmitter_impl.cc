/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "params.h"
#include "weights_transmitter_impl.h"
#include <gnuradio/io_signature.h>
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace gr {
namespace isac_ae {

namespace {

void check_finite(const std::vector<gr_complex>& x, const std::string& what)
{
    for (const auto& c : x) {
        if (!std::isfinite(c.real()) || !std::isfinite(c.imag())) {
            throw std::invalid_argument("weights_transmitter: " + what +
                                        " must be finite");
        }
    }
}

void check_constellation(const std::vector<gr_complex>& constellation)
{
    if (constellation.empty() || constellation.size() > 256) {
        throw std::invalid_argument(
            "weights_transmitter: the constellation must have 1 to 256 points "
            "(the message index is a byte), got " +
            std::to_string(constellation.size()));
    }
    check_finite(constellation, "the constellation");
}

void check_weights(int K, const std::vector<gr_complex>& weights)
{
    if (weights.size() != static_cast<std::size_t>(K)) {
        throw std::invalid_argument("weights_transmitter: weights has " +
                                    std::to_string(weights.size()) +
                                    " values but K = " + std::to_string(K));
    }
    check_finite(weights, "the weights");
}

} // namespace

weights_transmitter::sptr
weights_transmitter::make(int K,
                          const std::vector<gr_complex>& constellation,
                          const std::vector<gr_complex>& weights)
{
    return gnuradio::make_block_sptr<weights_transmitter_impl>(K, constellation, weights);
}

weights_transmitter_impl::weights_transmitter_impl(
    int K,
    const std::vector<gr_complex>& constellation,
    const std::vector<gr_complex>& weights)
    : gr::sync_block("weights_transmitter",
                     gr::io_signature::make(1, 1, sizeof(std::uint8_t)),
                     gr::io_signature::make(2, 2, sizeof(gr_complex) * std::max(K, 1))),
      d_K(K),
      d_constellation(constellation),
      d_weights(weights),
      d_warned(false)
{
    detail::check_K("weights_transmitter", K);
    check_constellation(constellation);
    check_weights(K, weights);
}

void weights_transmitter_impl::set_weights(const std::vector<gr_complex>& weights)
{
    check_weights(d_K, weights);
    gr::thread::scoped_lock guard(d_setlock);
    d_weights = weights;
}

std::vector<gr_complex> weights_transmitter_impl::weights() const
{
    gr::thread::scoped_lock guard(const_cast<weights_transmitter_impl*>(this)->d_setlock);
    return d_weights;
}

void weights_transmitter_impl::set_constellation(
    const std::vector<gr_complex>& constellation)
{
    check_constellation(constellation);
    gr::thread::scoped_lock guard(d_setlock);
    d_constellation = constellation;
}

std::vector<gr_complex> weights_transmitter_impl::constellation() const
{
    gr::thread::scoped_lock guard(const_cast<weights_transmitter_impl*>(this)->d_setlock);
    return d_constellation;
}

int weights_transmitter_impl::work(int noutput_items,
                                   gr_vector_const_void_star& input_items,
                                   gr_vector_void_star& output_items)
{
    const std::uint8_t* msg = static_cast<const std::uint8_t*>(input_items[0]);
    float* y = static_cast<float*>(output_items[0]);
    float* v = static_cast<float*>(output_items[1]);
    const std::size_t K2 = 2 * static_cast<std::size_t>(d_K);

    // Held for the whole call: a setter waits at most one work() call, and every
    // item of a call uses the same weights and constellation.
    gr::thread::scoped_lock guard(d_setlock);
    const float* __restrict w = reinterpret_cast<const float*>(d_weights.data());
    const std::size_t M = d_constellation.size();
    std::size_t bad = 0;
    int first_bad = 0;
    for (int i = 0; i < noutput_items; i++) {
        float* __restrict yo = y + i * K2;
        float* __restrict vo = v + i * K2;
        std::copy(w, w + K2, vo);
        const std::uint8_t m = msg[i];
        if (m >= M) {
            std::fill(yo, yo + K2, 0.0f);
            if (bad++ == 0) {
                first_bad = m;
            }
            continue;
        }
        const float xr = d_constellation[m].real(), xi = d_constellation[m].imag();
        for (std::size_t k = 0; k < K2; k += 2) {
            yo[k] = xr * w[k] - xi * w[k + 1];
            yo[k + 1] = xr * w[k + 1] + xi * w[k];
        }
    }
    if (bad > 0 && !d_warned.exchange(true)) {
        d_logger->warn("message index {} outside the constellation (|M| = {}): "
                       "transmitting zeros for such "
                       "items ({} in this call; this warning is shown once)",
                       first_bad,
                       M,
                       bad);
    }
    return noutput_items;
}

} // namespace isac_ae
} // namespace gr
