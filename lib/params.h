/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Internal: parameter checks shared by the blocks. They throw std::invalid_argument,
 * which pybind11 turns into a Python ValueError.
 */

#ifndef INCLUDED_ISAC_AE_PARAMS_H
#define INCLUDED_ISAC_AE_PARAMS_H

#include <cmath>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace gr {
namespace isac_ae {
namespace detail {

inline void check_K(const std::string& block, int K)
{
    if (K < 1 || K > 4096) {
        throw std::invalid_argument(block + ": K (number of antennas) must be in [1, 4096], got " +
                                    std::to_string(K));
    }
}

/*! The positions to use: the nominal k/2 array when empty, else exactly K finite values. */
inline std::vector<float> resolve_positions(const std::string& block, int K, const std::vector<float>& positions)
{
    check_K(block, K);
    if (positions.empty()) {
        std::vector<float> nominal(K);
        for (int k = 0; k < K; k++) {
            nominal[k] = 0.5f * static_cast<float>(k);
        }
        return nominal;
    }
    if (positions.size() != static_cast<std::size_t>(K)) {
        throw std::invalid_argument(block + ": positions has " + std::to_string(positions.size()) +
                                    " values but K = " + std::to_string(K) +
                                    " (give K positions in wavelengths, or none for the nominal k/2 array)");
    }
    for (float p : positions) {
        if (!std::isfinite(p)) {
            throw std::invalid_argument(block + ": element positions must be finite");
        }
    }
    return positions;
}

inline void check_sector(const std::string& block, float theta_min, float theta_max)
{
    const float half_pi = 1.57079637f; // float(pi / 2) rounds up: radians(90) passes
    if (!(std::isfinite(theta_min) && std::isfinite(theta_max) && -half_pi <= theta_min &&
          theta_min <= theta_max && theta_max <= half_pi)) {
        throw std::invalid_argument(block + ": the sector must satisfy -pi/2 <= min <= max <= pi/2 (radians; "
                                            "degrees in GRC), got [" +
                                    std::to_string(theta_min) + ", " + std::to_string(theta_max) + "]");
    }
}

inline void check_snr(const std::string& block, float snr_db)
{
    if (!std::isfinite(snr_db) || snr_db > 200.0f || snr_db < -200.0f) {
        throw std::invalid_argument(block + ": the SNR must be a finite number of dB in [-200, 200], got " +
                                    std::to_string(snr_db));
    }
}

inline void check_probability(const std::string& block, float p)
{
    if (!(p >= 0.0f && p <= 1.0f)) {
        throw std::invalid_argument(block + ": p_target must lie in [0, 1], got " + std::to_string(p));
    }
}

/*!
 * SNR (dB) and angular sector (radians) of a simulated channel block: checked on
 * every change and read by work() as one consistent snapshot, so run-time setters
 * from another thread never tear a (min, max) pair.
 */
class channel_settings
{
public:
    struct values {
        float snr_db, theta_min, theta_max;
    };

    channel_settings(const std::string& block, float snr_db, float theta_min, float theta_max) : d_block(block)
    {
        set_snr_db(snr_db);
        set_sector(theta_min, theta_max);
    }

    void set_snr_db(float snr_db)
    {
        check_snr(d_block, snr_db);
        std::lock_guard<std::mutex> guard(d_mutex);
        d_values.snr_db = snr_db;
    }

    void set_sector(float theta_min, float theta_max)
    {
        check_sector(d_block, theta_min, theta_max);
        std::lock_guard<std::mutex> guard(d_mutex);
        d_values.theta_min = theta_min;
        d_values.theta_max = theta_max;
    }

    values get() const
    {
        std::lock_guard<std::mutex> guard(d_mutex);
        return d_values;
    }

private:
    const std::string d_block;
    mutable std::mutex d_mutex;
    values d_values{};
};

/*! Amplitude std of a gain with variance 10^(snr_db / 10) (N0 = 1). */
inline float gain_std(float snr_db) { return static_cast<float>(std::sqrt(std::pow(10.0, snr_db / 10.0))); }

} // namespace detail
} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_PARAMS_H */
