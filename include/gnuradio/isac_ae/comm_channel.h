/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_ISAC_AE_COMM_CHANNEL_H
#define INCLUDED_ISAC_AE_COMM_CHANNEL_H

#include <gnuradio/isac_ae/api.h>
#include <gnuradio/sync_block.h>
#include <cstdint>
#include <vector>

namespace gr {
namespace isac_ae {

/*!
 * \brief Rayleigh MISO comm channel of eq. (2), with the receiver's CSI.
 * \ingroup isac_ae
 *
 * Inputs: y (K complex per item, the transmitted snapshot), v (K complex, the
 * transmitter's beamformer). Outputs: z_c (complex) = beta a(vartheta)^T y + n,
 * kappa (complex) = beta a(vartheta)^T v, vartheta (float, radians: a stream
 * between blocks, as the core's tensors). Per item: beta ~ CN(0, 10^(snr_db/10)),
 * vartheta ~ U[min, max) of the sector, n ~ CN(0, 1) (N0 = 1). Parameters and
 * setters take angles in degrees.
 */
class ISAC_AE_API comm_channel : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<comm_channel> sptr;

    /*!
     * \param K number of antennas (vector length of y and v)
     * \param positions element positions in wavelengths, K values; empty: nominal k/2
     * \param snr_db SNR_c = sigma_c^2 / N0 in dB
     * \param min_deg, max_deg the receiver's sector, degrees, -90 <= min <= max <= 90
     * \param seed seed of the draws (>= 0: repeatable; < 0: from std::random_device)
     * Throws std::invalid_argument (ValueError in Python) on bad parameters.
     */
    static sptr make(int K,
                     const std::vector<float>& positions,
                     float snr_db,
                     double min_deg,
                     double max_deg,
                     int64_t seed);

    virtual void set_snr_db(float snr_db) = 0;
    virtual float snr_db() const = 0;
    /*! Degrees, -90 <= min <= max <= 90 (else std::invalid_argument). */
    virtual void set_sector(double min_deg, double max_deg) = 0;
    /*! {min, max} in degrees, as set. */
    virtual std::vector<double> sector() const = 0;
    virtual std::vector<float> positions() const = 0;
};

} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_COMM_CHANNEL_H */
