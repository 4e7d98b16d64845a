/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gnuradio/isac_ae/maprt_kernel.h>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

namespace gr {
namespace isac_ae {

namespace {
std::vector<float> nominal(int K)
{
    std::vector<float> p(K);
    for (int k = 0; k < K; k++) {
        p[k] = 0.5f * k;
    }
    return p;
}
} // namespace

// The grid of [-20, 20] deg: sin(20 deg) = 0.34202, 2 * 0.34202 / 2e-4 = 3420.2 -> 3422
// points.
BOOST_AUTO_TEST_CASE(maprt_grid_by_hand)
{
    const double s20 = 20.0 * M_PI / 180.0;
    maprt_search m(nominal(16), -s20, s20);
    BOOST_CHECK_EQUAL(m.num_fine(), 3422u);
    BOOST_CHECK_EQUAL(m.num_coarse(), 36u); // 0, 100, ..., 3400 and 3421
    BOOST_CHECK_CLOSE(m.u(0), -std::sin(s20), 1e-12);
    BOOST_CHECK_CLOSE(m.u(3421), std::sin(s20), 1e-12);
    BOOST_CHECK_CLOSE(m.theta(3421), float(s20), 1e-5);
    BOOST_CHECK(std::isnan(m.theta(-1)));
}

// z = a(u_i) on a grid point: |a^H z|^2 = K^2 at i, the maximum.
BOOST_AUTO_TEST_CASE(maprt_finds_a_noise_free_target_on_the_grid)
{
    const int K = 8;
    const double s20 = 20.0 * M_PI / 180.0;
    maprt_search m(nominal(K), -s20, s20);
    for (std::int32_t target : { 0, 17, 1234, 3000, 3421 }) {
        std::vector<gr_complex> z(K);
        for (int k = 0; k < K; k++) {
            const double phase = -2.0 * M_PI * 0.5 * k * m.u(target);
            z[k] = gr_complex(std::cos(phase), std::sin(phase));
        }
        float stat;
        std::int32_t idx;
        BOOST_CHECK_EQUAL(m.search(z.data(), 1, &stat, &idx), 0u);
        BOOST_CHECK_CLOSE(stat, float(K * K), 1e-3);
        BOOST_CHECK_EQUAL(idx, target);
    }
}

BOOST_AUTO_TEST_CASE(maprt_coarse_to_fine_matches_the_fine_grid)
{
    const int K = 16, n = 2000;
    maprt_search m(nominal(K), -0.35, 0.35);
    std::mt19937 gen(3);
    std::normal_distribution<float> g;
    std::vector<gr_complex> z(n * K);
    for (auto& x : z) {
        x = gr_complex(g(gen), g(gen));
    }
    std::vector<float> s1(n), s2(n);
    std::vector<std::int32_t> i1(n), i2(n);
    m.search(z.data(), n, s1.data(), i1.data());
    m.fine_search(z.data(), n, s2.data(), i2.data());
    int differ = 0;
    for (int i = 0; i < n; i++) {
        BOOST_CHECK_CLOSE(s1[i], s2[i], 1e-2); // percent
        differ += i1[i] != i2[i];
    }
    BOOST_CHECK_LT(differ, n / 20);
}

BOOST_AUTO_TEST_CASE(maprt_non_finite_snapshots_are_flagged)
{
    maprt_search m(nominal(4), -0.3, 0.3);
    std::vector<gr_complex> z(8, gr_complex(1, 0));
    z[5] = gr_complex(std::numeric_limits<float>::quiet_NaN(), 0);
    float stat[2];
    std::int32_t idx[2];
    BOOST_CHECK_EQUAL(m.search(z.data(), 2, stat, idx), 1u);
    BOOST_CHECK_GE(idx[0], 0);
    BOOST_CHECK_EQUAL(idx[1], -1);
    BOOST_CHECK_EQUAL(stat[1], 0.0f);
}

BOOST_AUTO_TEST_CASE(maprt_rejects_bad_parameters)
{
    BOOST_CHECK_THROW(maprt_search(std::vector<float>{}, -0.3, 0.3),
                      std::invalid_argument);
    BOOST_CHECK_THROW(maprt_search(nominal(4), 0.3, -0.3), std::invalid_argument);
    BOOST_CHECK_THROW(maprt_search(nominal(4), -2.0, 0.3), std::invalid_argument);
    BOOST_CHECK_THROW(maprt_search(nominal(4), -0.3, 0.3, 0.0), std::invalid_argument);
    BOOST_CHECK_THROW(maprt_search(nominal(4), -0.3, 0.3, 2e-4, 10, 2, 0),
                      std::invalid_argument);
}

} // namespace isac_ae
} // namespace gr
