/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gnuradio/isac_ae/ml_detector_kernel.h>
#include <limits>
#include <stdexcept>

namespace gr {
namespace isac_ae {

void ml_detect(const gr_complex* z,
               const gr_complex* kappa,
               std::size_t n,
               const gr_complex* constellation,
               std::size_t num_messages,
               std::uint8_t* out)
{
    if (num_messages < 1 || num_messages > 256) {
        throw std::invalid_argument("ml_detect: num_messages must be in [1, 256]");
    }
    // Plain real arithmetic: the same values as std::norm(z - kappa * x) for finite
    // input, without the NaN-recovery branch of the complex product.
    for (std::size_t i = 0; i < n; i++) {
        const float zr = z[i].real(), zi = z[i].imag();
        const float kr = kappa[i].real(), ki = kappa[i].imag();
        float best = std::numeric_limits<float>::infinity();
        std::uint8_t best_m = 0;
        for (std::size_t m = 0; m < num_messages; m++) {
            const float xr = constellation[m].real(), xi = constellation[m].imag();
            const float er = zr - (kr * xr - ki * xi);
            const float ei = zi - (kr * xi + ki * xr);
            const float d = er * er + ei * ei;
            const bool better = d < best;
            best = better ? d : best;
            best_m = better ? static_cast<std::uint8_t>(m) : best_m;
        }
        out[i] = best_m;
    }
}

} // namespace isac_ae
} // namespace gr
