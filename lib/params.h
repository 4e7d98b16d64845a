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

/*!
 * Largest |p_k| in wavelengths. The kernels form the phase p_k sin(theta) in
 * float32: at 1e4 wavelengths its rounding is 6e-4 turns (0.2 deg); beyond, the
 * steering vectors stop meaning anything.
 */
constexpr float max_abs_position = 1e4f;

inline void check_K(const std::string& block, int K)
{
    if (K < 1 || K > 4096) {
        throw std::invalid_argument(
            block + ": K (number of antennas) must be in [1, 4096], got " +
            std::to_string(K));
    }
}

/*! The positions to use: the nominal k/2 array when empty, else exactly K finite values.
 */
inline std::vector<float>
resolve_positions(const std::string& block, int K, const std::vector<float>& positions)
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
        throw std::invalid_argument(
            block + ": positions has " + std::to_string(positions.size()) +
            " values but K = " + std::to_string(K) +
            " (give K positions in wavelengths, or none for the nominal k/2 array)");
    }
    for (float p : positions) {
        if (!(std::abs(p) <= max_abs_position)) { // also false for NaN
            throw std::invalid_argument(
                block + ": element positions must be finite wavelengths within +-" +
                std::to_string(static_cast<int>(max_abs_position)) + ", got " +
                std::to_string(p));
        }
    }
    return positions;
}

/*! A sector in degrees: finite, -90 <= min <= max <= 90. */
inline void check_sector_deg(const std::string& block, double min_deg, double max_deg)
{
    if (!(std::isfinite(min_deg) && std::isfinite(max_deg) && -90.0 <= min_deg &&
          min_deg <= max_deg && max_deg <= 90.0)) {
        throw std::invalid_argument(
            block + ": the sector must satisfy -90 <= min <= max <= 90 (degrees), got [" +
            std::to_string(min_deg) + ", " + std::to_string(max_deg) + "]");
    }
}

/*! Degrees to radians, as Python's math.radians (x * (pi / 180) in double). */
inline double radians(double deg) { return deg * (3.14159265358979323846 / 180.0); }

inline void check_snr(const std::string& block, float snr_db)
{
    if (!std::isfinite(snr_db) || snr_db > 200.0f || snr_db < -200.0f) {
        throw std::invalid_argument(
            block + ": the SNR must be a finite number of dB in [-200, 200], got " +
            std::to_string(snr_db));
    }
}

inline void check_probability(const std::string& block, float p)
{
    if (!(p >= 0.0f && p <= 1.0f)) {
        throw std::invalid_argument(block + ": p_target must lie in [0, 1], got " +
                                    std::to_string(p));
    }
}

/*!
 * SNR (dB) and angular sector (set in degrees, read in radians) of a simulated
 * channel block: checked on every change and read by work() as one consistent
 * snapshot, so run-time setters from another thread never tear a (min, max) pair.
 */
class channel_settings
{
public:
    struct values {
        float snr_db, theta_min, theta_max; // theta in radians
        double min_deg, max_deg;            // the sector as set
    };

    channel_settings(const std::string& block,
                     float snr_db,
                     double min_deg,
                     double max_deg)
        : d_block(block)
    {
        set_snr_db(snr_db);
        set_sector(min_deg, max_deg);
    }

    void set_snr_db(float snr_db)
    {
        check_snr(d_block, snr_db);
        std::lock_guard<std::mutex> guard(d_mutex);
        d_values.snr_db = snr_db;
    }

    void set_sector(double min_deg, double max_deg)
    {
        check_sector_deg(d_block, min_deg, max_deg);
        std::lock_guard<std::mutex> guard(d_mutex);
        d_values.theta_min = static_cast<float>(radians(min_deg));
        d_values.theta_max = static_cast<float>(radians(max_deg));
        d_values.min_deg = min_deg;
        d_values.max_deg = max_deg;
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
inline float gain_std(float snr_db)
{
    return static_cast<float>(std::sqrt(std::pow(10.0, snr_db / 10.0)));
}

} // namespace detail
} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_PARAMS_H */
