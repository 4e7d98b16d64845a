/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_ISAC_AE_MAPRT_DETECTOR_H
#define INCLUDED_ISAC_AE_MAPRT_DETECTOR_H

#include <gnuradio/isac_ae/api.h>
#include <gnuradio/sync_block.h>
#include <vector>

namespace gr {
namespace isac_ae {

/*!
 * \brief MAPRT radar receiver (Appendix A): detection statistic and AoA estimate.
 * \ingroup isac_ae
 *
 * Input: z_r (K complex). Outputs: statistic (float) = max over the prior
 * sector of |a(theta)^H z|^2, theta_hat (float, radians, the argmax), detection
 * (byte) = statistic > threshold. The search is gr::isac_ae::maprt_search (the
 * core's coarse-to-fine search). A snapshot with a NaN or infinite sample gives
 * statistic 0, theta_hat NaN, detection 0 and a warning (logged once).
 */
class ISAC_AE_API maprt_detector : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<maprt_detector> sptr;

    /*!
     * \param K number of antennas
     * \param positions element positions the detector assumes, wavelengths, K
     *        values; empty: nominal k/2
     * \param theta_min, theta_max prior sector, radians
     * \param threshold detection threshold on the statistic
     * \param fine_step_u, refine_factor, levels, candidates: the search (see maprt_search)
     */
    static sptr make(int K,
                     const std::vector<float>& positions,
                     double theta_min,
                     double theta_max,
                     float threshold,
                     double fine_step_u = 2e-4,
                     int refine_factor = 10,
                     int levels = 2,
                     int candidates = 3);

    virtual void set_threshold(float threshold) = 0;
    virtual float threshold() const = 0;
    virtual std::vector<float> positions() const = 0;
    /*! Radians (double: the grid is built from sin(theta) in double, as in the core). */
    virtual std::vector<double> sector() const = 0;
};

} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_MAPRT_DETECTOR_H */
