/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "random_draws.h"
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <vector>

namespace gr {
namespace isac_ae {
namespace detail {

BOOST_AUTO_TEST_CASE(stream_does_not_depend_on_chunking)
{
    uniform_stream a(42), b(42), c(43);
    std::vector<std::uint32_t> wa(5000), wb(5000), wc(5000);
    a.take(wa.data(), wa.size());
    std::size_t pos = 0;
    for (std::size_t chunk : { 1, 7, 1023, 1024, 1025, 1920 }) {
        b.take(wb.data() + pos, chunk);
        pos += chunk;
    }
    BOOST_REQUIRE_EQUAL(pos, wb.size());
    c.take(wc.data(), wc.size());
    BOOST_CHECK(wa == wb);
    BOOST_CHECK(wa != wc);
}

BOOST_AUTO_TEST_CASE(salt_separates_blocks)
{
    BOOST_CHECK_NE(resolve_seed(0, 1), resolve_seed(0, 2));
    BOOST_CHECK_EQUAL(resolve_seed(5, 1), resolve_seed(5, 1));
}

// Moments with 5-sigma tolerances from the sample size.
BOOST_AUTO_TEST_CASE(comm_draws_have_the_model_moments)
{
    const std::size_t n = 200000;
    uniform_stream s(7);
    std::vector<std::uint32_t> w(n * comm_words_per_item);
    s.take(w.data(), w.size());
    std::vector<float> vartheta(n);
    std::vector<gr_complex> beta(n), noise(n);
    const float beta_std = 10.0f; // sigma^2 = 100
    comm_draws(
        w.data(), n, 0.5f, 0.9f, beta_std, vartheta.data(), beta.data(), noise.data());
    double mt = 0, mb = 0, mn = 0, mnr = 0, mni = 0;
    float tmin = 1e9f, tmax = -1e9f;
    for (std::size_t i = 0; i < n; i++) {
        mt += vartheta[i];
        tmin = std::min(tmin, vartheta[i]);
        tmax = std::max(tmax, vartheta[i]);
        mb += std::norm(beta[i]);
        mn += std::norm(noise[i]);
        mnr += noise[i].real();
        mni += noise[i].imag();
    }
    mt /= n, mb /= n, mn /= n, mnr /= n, mni /= n;
    const double z = 5.0 / std::sqrt(double(n));
    BOOST_CHECK_SMALL(mt - 0.7, z * 0.4 / std::sqrt(12.0));
    BOOST_CHECK_GE(tmin, 0.5f);
    BOOST_CHECK_LT(tmax, 0.9f);
    BOOST_CHECK_SMALL(mb / 100.0 - 1.0, z); // |beta|^2 ~ sigma^2 Exp(1): std = mean
    BOOST_CHECK_SMALL(mn - 1.0, z);
    BOOST_CHECK_SMALL(mnr, z * std::sqrt(0.5));
    BOOST_CHECK_SMALL(mni, z * std::sqrt(0.5));
}

BOOST_AUTO_TEST_CASE(radar_draws_have_the_model_moments)
{
    const std::size_t n = 50000, K = 4;
    uniform_stream s(9);
    std::vector<std::uint32_t> w(n * radar_words_per_item(K));
    s.take(w.data(), w.size());
    std::vector<std::uint8_t> t(n);
    std::vector<float> theta(n);
    std::vector<gr_complex> alpha(n), noise(n * K);
    radar_draws(w.data(),
                n,
                K,
                -0.3f,
                0.3f,
                0.25f,
                2.0f,
                t.data(),
                theta.data(),
                alpha.data(),
                noise.data());
    double pt = 0, ma = 0, mn = 0;
    std::size_t absent_nonzero = 0;
    for (std::size_t i = 0; i < n; i++) {
        pt += t[i];
        if (t[i]) {
            ma += std::norm(alpha[i]);
        } else if (alpha[i] != gr_complex(0, 0)) {
            absent_nonzero++;
        }
        for (std::size_t k = 0; k < K; k++) {
            mn += std::norm(noise[i * K + k]);
        }
    }
    BOOST_CHECK_EQUAL(absent_nonzero, 0u);
    BOOST_CHECK_SMALL(pt / n - 0.25, 5.0 * std::sqrt(0.25 * 0.75 / n));
    BOOST_CHECK_SMALL(ma / pt / 4.0 - 1.0, 5.0 / std::sqrt(pt));
    BOOST_CHECK_SMALL(mn / (n * K) - 1.0, 5.0 / std::sqrt(double(n * K)));
}

} // namespace detail
} // namespace isac_ae
} // namespace gr
