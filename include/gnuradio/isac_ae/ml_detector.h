/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_ISAC_AE_ML_DETECTOR_H
#define INCLUDED_ISAC_AE_ML_DETECTOR_H

#include <gnuradio/isac_ae/api.h>
#include <gnuradio/sync_block.h>
#include <vector>

namespace gr {
namespace isac_ae {

/*!
 * \brief Maximum-likelihood comm receiver with CSI, eq. (11).
 * \ingroup isac_ae
 *
 * Inputs: z_c (complex), kappa (complex CSI). Output: message index (byte)
 * argmin_m |z_c - kappa x(m)|^2 (kernel gr::isac_ae::ml_detect). An item with a
 * NaN or infinite z_c or kappa gives index 0 and a warning (logged once).
 */
class ISAC_AE_API ml_detector : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<ml_detector> sptr;

    /*! constellation: x(m), 1 <= |M| <= 256 points. */
    static sptr make(const std::vector<gr_complex>& constellation);

    virtual void set_constellation(const std::vector<gr_complex>& constellation) = 0;
    virtual std::vector<gr_complex> constellation() const = 0;
};

} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_ML_DETECTOR_H */
