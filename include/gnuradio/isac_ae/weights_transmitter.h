/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_ISAC_AE_WEIGHTS_TRANSMITTER_H
#define INCLUDED_ISAC_AE_WEIGHTS_TRANSMITTER_H

#include <gnuradio/isac_ae/api.h>
#include <gnuradio/sync_block.h>
#include <vector>

namespace gr {
namespace isac_ae {

/*!
 * \brief Fixed-beam transmitter: y = x(m) w, v = w.
 * \ingroup isac_ae
 *
 * Input: message index m (byte). Outputs: y (K complex) = constellation[m] *
 * weights, v (K complex) = weights (the beamformer, for the comm channel's CSI).
 * An index >= |M| gives y = 0 for that item and a warning (logged once).
 * set_weights / set_constellation may be called while the flowgraph runs; each
 * work() call sees one consistent pair.
 */
class ISAC_AE_API weights_transmitter : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<weights_transmitter> sptr;

    /*!
     * \param K number of antennas; weights must hold K values
     * \param constellation x(m), m = 0..|M|-1, 1 <= |M| <= 256
     * \param weights the beam w, K complex
     */
    static sptr make(int K,
                     const std::vector<gr_complex>& constellation,
                     const std::vector<gr_complex>& weights);

    /*! New beam, K values (else std::invalid_argument). */
    virtual void set_weights(const std::vector<gr_complex>& weights) = 0;
    virtual std::vector<gr_complex> weights() const = 0;
    virtual void set_constellation(const std::vector<gr_complex>& constellation) = 0;
    virtual std::vector<gr_complex> constellation() const = 0;
};

} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_WEIGHTS_TRANSMITTER_H */
