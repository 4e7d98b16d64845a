/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "fast_math.h"
#include <gnuradio/isac_ae/channel_kernels.h>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <vector>

namespace gr {
namespace isac_ae {

namespace {
const float pi = 3.14159265358979f;

void check_close(gr_complex got, gr_complex want, float tol = 1e-5f)
{
    BOOST_CHECK_SMALL(std::abs(got - want), tol);
}
} // namespace

BOOST_AUTO_TEST_CASE(sincos_turns_matches_libm)
{
    float worst = 0.0f;
    for (int i = -200000; i <= 200000; i++) {
        const double x = i * 3.7e-5; // about [-7.4, 7.4] turns
        float c, s;
        detail::sincos_turns(static_cast<float>(x), c, s);
        const double xf = static_cast<float>(x);
        worst =
            std::max(worst, static_cast<float>(std::abs(c - std::cos(2 * M_PI * xf))));
        worst =
            std::max(worst, static_cast<float>(std::abs(s - std::sin(2 * M_PI * xf))));
    }
    BOOST_CHECK_LT(worst, 3e-7f);
}

BOOST_AUTO_TEST_CASE(neg_log_matches_libm)
{
    float worst = 0.0f;
    for (std::uint32_t w = 0; w < 0xffffff00u; w += 0x10001u) {
        const float u = detail::open_uniform(w);
        const double want = -std::log(static_cast<double>(u));
        worst = std::max(worst,
                         static_cast<float>(std::abs(detail::neg_log(u) - want) /
                                            std::max(want, 1e-3)));
    }
    BOOST_CHECK_LT(worst, 1e-6f);
    BOOST_CHECK_EQUAL(detail::neg_log(1.0f), 0.0f);
}

// K = 2, positions (0, 1/2), theta = 30 deg: sin = 1/2, a = (1, exp(-j pi/2)) = (1, -j).
BOOST_AUTO_TEST_CASE(steering_vector_by_hand)
{
    const std::vector<float> p = { 0.0f, 0.5f };
    std::vector<gr_complex> a(2);
    steering_vector(p.data(), 2, pi / 6, a.data());
    check_close(a[0], { 1.0f, 0.0f });
    check_close(a[1], { 0.0f, -1.0f });
}

// y = (1, 1): a^T y = 1 - j; alpha = 2: z = 2 (1 - j) (1, -j) = (2 - 2j, -2 - 2j), plus
// noise.
BOOST_AUTO_TEST_CASE(radar_observation_by_hand)
{
    const std::vector<float> p = { 0.0f, 0.5f };
    const std::vector<gr_complex> y = { { 1, 0 }, { 1, 0 }, { 1, 0 }, { 1, 0 } };
    const std::vector<float> theta = { pi / 6, pi / 6 };
    const std::vector<gr_complex> alpha = { { 2, 0 },
                                            { 0, 0 } }; // second item: no target
    const std::vector<gr_complex> noise = {
        { 0.5f, 0 }, { 0, 0.25f }, { 1, 1 }, { -1, 0 }
    };
    std::vector<gr_complex> z(4);
    radar_observation(
        y.data(), theta.data(), alpha.data(), noise.data(), 2, p.data(), 2, z.data());
    check_close(z[0], gr_complex(2.5f, -2.0f));
    check_close(z[1], gr_complex(-2.0f, -1.75f));
    check_close(z[2], noise[2]);
    check_close(z[3], noise[3]);
    // In place (noise == z) and without noise.
    std::vector<gr_complex> w = noise;
    radar_observation(
        y.data(), theta.data(), alpha.data(), w.data(), 2, p.data(), 2, w.data());
    check_close(w[0], z[0]);
    check_close(w[1], z[1]);
    radar_observation(
        y.data(), theta.data(), alpha.data(), nullptr, 2, p.data(), 2, z.data());
    check_close(z[1], gr_complex(-2.0f, -2.0f));
    check_close(z[3], gr_complex(0.0f, 0.0f));
}

// v = (1, j): a^T v = 1 + (-j)(j) = 2; beta = j: kappa = 2j, z = j (1 - j) + n = 1 + j +
// n.
BOOST_AUTO_TEST_CASE(comm_observation_by_hand)
{
    const std::vector<float> p = { 0.0f, 0.5f };
    const std::vector<gr_complex> y = { { 1, 0 }, { 1, 0 } };
    const std::vector<gr_complex> v = { { 1, 0 }, { 0, 1 } };
    const float vartheta = pi / 6;
    const gr_complex beta(0, 1), noise(0.1f, -0.2f);
    gr_complex z, kappa;
    comm_observation(
        y.data(), v.data(), &vartheta, &beta, &noise, 1, p.data(), 2, &z, &kappa);
    check_close(kappa, gr_complex(0.0f, 2.0f));
    check_close(z, gr_complex(1.1f, 0.8f));
}

} // namespace isac_ae
} // namespace gr
