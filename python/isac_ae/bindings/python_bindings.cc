/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Bindings of the C++ kernels. Array arguments are NumPy arrays; lengths are
 * checked here so that a wrong length is a Python ValueError, never a crash.
 */

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <gnuradio/isac_ae/ml_detector_kernel.h>

namespace py = pybind11;

namespace {

using carray = py::array_t<gr_complex, py::array::c_style | py::array::forcecast>;

py::array_t<std::uint8_t> ml_detect(carray z, carray kappa, carray constellation)
{
    if (z.ndim() != 1 || kappa.ndim() != 1 || constellation.ndim() != 1) {
        throw py::value_error("ml_detect: z, kappa and constellation must be 1-D");
    }
    if (z.size() != kappa.size()) {
        throw py::value_error("ml_detect: z and kappa must have the same length");
    }
    if (constellation.size() < 1 || constellation.size() > 256) {
        throw py::value_error("ml_detect: the constellation must have 1 to 256 points");
    }
    py::array_t<std::uint8_t> out(z.size());
    {
        py::gil_scoped_release release;
        gr::isac_ae::ml_detect(z.data(), kappa.data(), z.size(), constellation.data(),
                               constellation.size(), out.mutable_data());
    }
    return out;
}

} // namespace

PYBIND11_MODULE(isac_ae_python, m)
{
    m.doc() = "gr-isac_ae C++ kernels";
    m.def("ml_detect", &ml_detect, py::arg("z"), py::arg("kappa"), py::arg("constellation"),
          "argmin_m |z - kappa x_m|^2 per item (eq. 11); returns uint8 indices.");
}
