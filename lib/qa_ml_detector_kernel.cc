/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gnuradio/isac_ae/ml_detector_kernel.h>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <vector>

namespace gr {
namespace isac_ae {

BOOST_AUTO_TEST_CASE(ml_detect_recovers_noise_free_symbols_through_any_csi)
{
    const float s = 1.0f / std::sqrt(2.0f);
    const std::vector<gr_complex> qam = { { -s, -s }, { -s, s }, { s, -s }, { s, s } };
    const std::vector<gr_complex> kappa = {
        { 2.0f, 0.0f }, { 0.0f, -3.0f }, { 0.5f, 0.5f }, { -1.0f, 0.2f }
    };
    std::vector<gr_complex> z(4);
    for (int i = 0; i < 4; i++) {
        z[i] = kappa[i] * qam[3 - i];
    }
    std::vector<std::uint8_t> out(4);
    ml_detect(z.data(), kappa.data(), 4, qam.data(), qam.size(), out.data());
    for (int i = 0; i < 4; i++) {
        BOOST_CHECK_EQUAL(out[i], 3 - i);
    }
}

BOOST_AUTO_TEST_CASE(ml_detect_rejects_too_many_messages)
{
    std::vector<gr_complex> constellation(257);
    gr_complex z = 0, kappa = 1;
    std::uint8_t out;
    BOOST_CHECK_THROW(ml_detect(&z, &kappa, 1, constellation.data(), 257, &out),
                      std::invalid_argument);
}

} // namespace isac_ae
} // namespace gr
