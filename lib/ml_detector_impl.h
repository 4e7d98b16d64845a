/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_ISAC_AE_ML_DETECTOR_IMPL_H
#define INCLUDED_ISAC_AE_ML_DETECTOR_IMPL_H

#include <gnuradio/isac_ae/ml_detector.h>
#include <atomic>

namespace gr {
namespace isac_ae {

class ml_detector_impl : public ml_detector
{
private:
    std::vector<gr_complex> d_constellation; // guarded by d_setlock
    std::atomic<bool> d_warned;

public:
    explicit ml_detector_impl(const std::vector<gr_complex>& constellation);

    void set_constellation(const std::vector<gr_complex>& constellation) override;
    std::vector<gr_complex> constellation() const override;

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_ML_DETECTOR_IMPL_H */
