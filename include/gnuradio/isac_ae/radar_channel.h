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
 * a(theta)^T y + n, t (byte, target present 0/1), theta (float, radians; drawn
 * also when t = 0). Per item: t ~ Bernoulli(p_target), theta ~ U[theta_min,
 * theta_max), alpha ~ CN(0, 10^(snr_db/10)), n ~ CN(0, I_K) (N0 = 1).
 */
class ISAC_AE_API radar_channel : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<radar_channel> sptr;

    /*!
     * \param K number of antennas
     * \param positions element positions in wavelengths, K values; empty: nominal k/2
     * \param snr_db SNR_r = sigma_r^2 / N0 in dB
     * \param theta_min, theta_max the target sector, radians
     * \param p_target probability of a target, [0, 1]
     * \param seed seed of the draws (>= 0: repeatable; < 0: from std::random_device)
     */
    static sptr make(int K,
                     const std::vector<float>& positions,
                     float snr_db,
                     float theta_min,
                     float theta_max,
                     float p_target,
                     int64_t seed);

    virtual void set_snr_db(float snr_db) = 0;
    virtual float snr_db() const = 0;
    virtual void set_sector(float theta_min, float theta_max) = 0;
    virtual std::vector<float> sector() const = 0;
    virtual void set_p_target(float p_target) = 0;
    virtual float p_target() const = 0;
    virtual std::vector<float> positions() const = 0;
};

} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_RADAR_CHANNEL_H */
