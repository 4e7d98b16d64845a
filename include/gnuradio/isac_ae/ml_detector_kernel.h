/* -*- c++ -*- */
/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_ISAC_AE_ML_DETECTOR_KERNEL_H
#define INCLUDED_ISAC_AE_ML_DETECTOR_KERNEL_H

#include <gnuradio/gr_complex.h>
#include <gnuradio/isac_ae/api.h>
#include <cstddef>
#include <cstdint>

namespace gr {
namespace isac_ae {

/*!
 * \brief Maximum-likelihood comm detection with CSI, eq. (11) of the paper.
 *
 * out[i] = argmin_m |z[i] - kappa[i] * constellation[m]|^2 for i < n.
 * Ties go to the lower index, as in the Python core (torch.argmin).
 * num_messages must be in [1, 256] (the index travels as a byte).
 */
ISAC_AE_API void ml_detect(const gr_complex* z,
                           const gr_complex* kappa,
                           std::size_t n,
                           const gr_complex* constellation,
                           std::size_t num_messages,
                           std::uint8_t* out);

} // namespace isac_ae
} // namespace gr

#endif /* INCLUDED_ISAC_AE_ML_DETECTOR_KERNEL_H */
