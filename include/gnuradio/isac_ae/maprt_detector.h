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
 * sector of |a(theta)^H z|^2, theta_hat (float, radians: a stream between
 * blocks, as the core's tensors; the argmax), detection (byte) = statistic >
 * threshold. The search is gr::isac_ae::maprt_search (the core's
 * coarse-to-fine search). A snapshot with a NaN or infinite sample gives
 * statistic 0, theta_hat NaN, detection 0 and a warning (logged once).
 *
 * The sector and the threshold may change while the flowgraph runs; each
 * work() call uses one (sector, threshold) pair. set_sector(min, max,
 * threshold) changes both at once, so a threshold calibrated for a sector is
 * never applied to another (the Python wrapper isac_ae.blocks.cpp_receivers
 * computes it for a false-alarm rate).
 */
class ISAC_AE_API maprt_detector : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<maprt_detector> sptr;

    /*!
     * \param K number of antennas
     * \param positions element positions the detector assumes, wavelengths, K
     *        values; empty: nominal k/2
     * \param min_deg, max_deg prior sector, degrees, -90 <= min <= max <= 90
     * \param threshold detection threshold on the statistic (not NaN)
     * \param fine_step_u, refine_factor, levels, candidates: the search (see
     * maprt_search) Throws std::invalid_argument (ValueError in Python) on bad
     * parameters.
     */
    static sptr make(int K,
                     const std::vector<float>& positions,
                     double min_deg,
                     double max_deg,
                     float threshold,
                     double fine_step_u = 2e-4,
                     int refine_factor = 10,
                     int levels = 2,
                     int candidates = 3);

    virtual void set_threshold(float threshold) = 0;
    virtual float threshold() const = 0;
    /*! New prior sector, degrees; keeps the threshold. Rebuilds the search tables in the
     * caller's thread. */
    virtual void set_sector(double min_deg, double max_deg) = 0;
    /*! New prior sector (degrees) and the threshold that goes with it, swapped in
     * together. */
    virtual void set_sector(double min_deg, double max_deg, float threshold) = 0;
    /*! {min, max} in degrees, as set. */
    virtual std::vector<double> sector() const = 0;
    virtual std::vector<float> positions() const = 0;
};

} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_MAPRT_DETECTOR_H */
