/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_ISAC_AE_RADAR_CHANNEL_H
#define INCLUDED_ISAC_AE_RADAR_CHANNEL_H

#include <gnuradio/isac_ae/api.h>
#include <gnuradio/sync_block.h>
#include <cstdint>
#include <vector>

namespace gr {
namespace isac_ae {

/*!
 * \brief Monostatic single-target radar channel of eq. (1).
 * \ingroup isac_ae
 *
 * Input: y (K complex per item). Outputs: z_r (K complex) = t alpha a(theta)
 * a(theta)^T y + n, t (byte, target present 0/1), theta (float, radians: a
 * stream between blocks, as the core's tensors; drawn also when t = 0). Per
 * item: t ~ Bernoulli(p_target), theta ~ U[min, max) of the sector, alpha ~
 * CN(0, 10^(snr_db/10)), n ~ CN(0, I_K) (N0 = 1). Parameters and setters take
 * angles in degrees.
 */
class ISAC_AE_API radar_channel : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<radar_channel> sptr;

    /*!
     * \param K number of antennas
     * \param positions element positions in wavelengths, K values; empty: nominal k/2
     * \param snr_db SNR_r = sigma_r^2 / N0 in dB
     * \param min_deg, max_deg the target sector, degrees, -90 <= min <= max <= 90
     * \param p_target probability of a target, [0, 1]
     * \param seed seed of the draws (>= 0: repeatable; < 0: from std::random_device)
     * Throws std::invalid_argument (ValueError in Python) on bad parameters.
     */
    static sptr make(int K,
                     const std::vector<float>& positions,
                     float snr_db,
                     double min_deg,
                     double max_deg,
                     float p_target,
                     int64_t seed);

    virtual void set_snr_db(float snr_db) = 0;
    virtual float snr_db() const = 0;
    /*! Degrees, -90 <= min <= max <= 90 (else std::invalid_argument). */
    virtual void set_sector(double min_deg, double max_deg) = 0;
    /*! {min, max} in degrees, as set. */
    virtual std::vector<double> sector() const = 0;
    virtual void set_p_target(float p_target) = 0;
    virtual float p_target() const = 0;
    virtual std::vector<float> positions() const = 0;
};

} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_RADAR_CHANNEL_H */
