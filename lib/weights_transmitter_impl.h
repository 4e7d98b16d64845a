/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_ISAC_AE_WEIGHTS_TRANSMITTER_IMPL_H
#define INCLUDED_ISAC_AE_WEIGHTS_TRANSMITTER_IMPL_H

#include <gnuradio/isac_ae/weights_transmitter.h>
#include <atomic>

namespace gr {
namespace isac_ae {

class weights_transmitter_impl : public weights_transmitter
{
private:
    const int d_K;
    std::vector<gr_complex> d_constellation; // guarded by d_setlock
    std::vector<gr_complex> d_weights;       // guarded by d_setlock
    std::atomic<bool> d_warned;

public:
    weights_transmitter_impl(int K,
                             const std::vector<gr_complex>& constellation,
                             const std::vector<gr_complex>& weights);

    void set_weights(const std::vector<gr_complex>& weights) override;
    std::vector<gr_complex> weights() const override;
    void set_constellation(const std::vector<gr_complex>& constellation) override;
    std::vector<gr_complex> constellation() const override;

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_WEIGHTS_TRANSMITTER_IMPL_H */
