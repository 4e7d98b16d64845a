/*
 * Copyright 2026 gr-isac_ae authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Bindings of the C++ kernels and blocks, written by hand (gr_modtool bind fails
 * with castxml on GCC 12). Array arguments are NumPy arrays; lengths are checked
 * here so that a wrong length is a Python ValueError, never a crash. The blocks'
 * make() throws std::invalid_argument on bad parameters, which pybind11 turns
 * into ValueError.
 */

#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <gnuradio/block.h>
#include <gnuradio/sync_block.h>

#include <gnuradio/isac_ae/channel_kernels.h>
#include <gnuradio/isac_ae/comm_channel.h>
#include <gnuradio/isac_ae/maprt_detector.h>
#include <gnuradio/isac_ae/maprt_kernel.h>
#include <gnuradio/isac_ae/ml_detector.h>
#include <gnuradio/isac_ae/ml_detector_kernel.h>
#include <gnuradio/isac_ae/radar_channel.h>
#include <gnuradio/isac_ae/weights_transmitter.h>

#include <string>

namespace py = pybind11;

namespace {

using carray = py::array_t<gr_complex, py::array::c_style | py::array::forcecast>;
using farray = py::array_t<float, py::array::c_style | py::array::forcecast>;

void require(bool ok, const std::string& msg)
{
    if (!ok) {
        throw py::value_error(msg);
    }
}

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

std::size_t check_positions(const farray& positions, const char* fn)
{
    require(positions.ndim() == 1 && positions.size() >= 1,
            std::string(fn) + ": positions must be a 1-D array of K >= 1 values");
    return static_cast<std::size_t>(positions.size());
}

// y (N, K) -> N, checking K.
std::size_t check_snapshots(const carray& y, std::size_t K, const char* fn, const char* name)
{
    require(y.ndim() == 2 && static_cast<std::size_t>(y.shape(1)) == K,
            std::string(fn) + ": " + name + " must have shape (N, K) with K = len(positions) = " +
                std::to_string(K));
    return static_cast<std::size_t>(y.shape(0));
}

template <typename A>
void check_length(const A& x, std::size_t n, const char* fn, const char* name)
{
    require(x.ndim() == 1 && static_cast<std::size_t>(x.size()) == n,
            std::string(fn) + ": " + name + " must be 1-D with N = " + std::to_string(n) + " values");
}

carray steering_vector(farray positions, float theta)
{
    const std::size_t K = check_positions(positions, "steering_vector");
    carray a(K);
    gr::isac_ae::steering_vector(positions.data(), K, theta, a.mutable_data());
    return a;
}

carray radar_echo(carray y, farray theta, carray alpha, farray positions, py::object noise)
{
    const std::size_t K = check_positions(positions, "radar_echo");
    const std::size_t n = check_snapshots(y, K, "radar_echo", "y");
    check_length(theta, n, "radar_echo", "theta");
    check_length(alpha, n, "radar_echo", "alpha");
    carray nz;
    const gr_complex* np = nullptr;
    if (!noise.is_none()) {
        nz = noise.cast<carray>();
        check_snapshots(nz, K, "radar_echo", "noise");
        require(static_cast<std::size_t>(nz.shape(0)) == n, "radar_echo: noise must have the shape of y");
        np = nz.data();
    }
    carray z({ n, K });
    {
        py::gil_scoped_release release;
        gr::isac_ae::radar_observation(
            y.data(), theta.data(), alpha.data(), np, n, positions.data(), K, z.mutable_data());
    }
    return z;
}

py::tuple comm_observation(carray y, carray v, farray vartheta, carray beta, farray positions, py::object noise)
{
    const std::size_t K = check_positions(positions, "comm_observation");
    const std::size_t n = check_snapshots(y, K, "comm_observation", "y");
    carray vv = v;
    if (v.ndim() == 1) { // one beamformer for every snapshot
        require(static_cast<std::size_t>(v.size()) == K, "comm_observation: v must have K values or shape (N, K)");
        vv = carray({ n, K });
        for (std::size_t i = 0; i < n; i++) {
            std::copy(v.data(), v.data() + K, vv.mutable_data() + i * K);
        }
    } else {
        require(check_snapshots(v, K, "comm_observation", "v") == n, "comm_observation: v must have N rows");
    }
    check_length(vartheta, n, "comm_observation", "vartheta");
    check_length(beta, n, "comm_observation", "beta");
    carray nz;
    const gr_complex* np = nullptr;
    if (!noise.is_none()) {
        nz = noise.cast<carray>();
        check_length(nz, n, "comm_observation", "noise");
        np = nz.data();
    }
    carray z(n), kappa(n);
    {
        py::gil_scoped_release release;
        gr::isac_ae::comm_observation(y.data(), vv.data(), vartheta.data(), beta.data(), np, n,
                                      positions.data(), K, z.mutable_data(), kappa.mutable_data());
    }
    return py::make_tuple(z, kappa);
}

using gr::isac_ae::maprt_search;

py::tuple maprt_run(const maprt_search& m, carray z, bool fine)
{
    const std::size_t n = check_snapshots(z, m.num_antennas(), fine ? "fine_search" : "search", "z");
    py::array_t<float> stat(n);
    py::array_t<std::int32_t> index(n);
    {
        py::gil_scoped_release release;
        if (fine) {
            m.fine_search(z.data(), n, stat.mutable_data(), index.mutable_data());
        } else {
            m.search(z.data(), n, stat.mutable_data(), index.mutable_data());
        }
    }
    return py::make_tuple(stat, index);
}

} // namespace

PYBIND11_MODULE(isac_ae_python, m)
{
    m.doc() = "gr-isac_ae C++ kernels and GNU Radio blocks";
    py::module::import("gnuradio.gr"); // registers gr::basic_block, gr::block, gr::sync_block

    // ---- kernels -------------------------------------------------------------------
    m.def("ml_detect", &ml_detect, py::arg("z"), py::arg("kappa"), py::arg("constellation"),
          "argmin_m |z - kappa x_m|^2 per item (eq. 11); returns uint8 indices.");
    m.def("steering_vector", &steering_vector, py::arg("positions"), py::arg("theta"),
          "a(theta)_k = exp(-j 2 pi p_k sin(theta)), complex64 (K,).");
    m.def("radar_echo", &radar_echo, py::arg("y"), py::arg("theta"), py::arg("alpha"), py::arg("positions"),
          py::arg("noise") = py::none(),
          "Eq. (1) for given draws: alpha a(theta) a(theta)^T y (+ noise). y: (N, K); theta, alpha: (N,).");
    m.def("comm_observation", &comm_observation, py::arg("y"), py::arg("v"), py::arg("vartheta"),
          py::arg("beta"), py::arg("positions"), py::arg("noise") = py::none(),
          "Eq. (2) for given draws: (z, kappa) = (beta a^T y (+ noise), beta a^T v). y: (N, K); v: (K,) or (N, K).");

    py::class_<maprt_search>(m, "MaprtSearch",
                             "The MAPRT search (Appendix A), the C++ twin of isac_ae.baselines.MaprtDetector.")
        .def(py::init<const std::vector<float>&, double, double, double, int, int, int>(), py::arg("positions"),
             py::arg("theta_min"), py::arg("theta_max"), py::arg("fine_step_u") = 2e-4,
             py::arg("refine_factor") = 10, py::arg("levels") = 2, py::arg("candidates") = 3)
        .def_property_readonly("num_antennas", &maprt_search::num_antennas)
        .def_property_readonly("num_fine", &maprt_search::num_fine)
        .def_property_readonly("num_coarse", &maprt_search::num_coarse)
        .def_property_readonly("u_grid",
                               [](const maprt_search& s) {
                                   py::array_t<double> u(s.num_fine());
                                   for (std::size_t i = 0; i < s.num_fine(); i++) {
                                       u.mutable_data()[i] = s.u(i);
                                   }
                                   return u;
                               })
        .def(
            "search", [](const maprt_search& s, carray z) { return maprt_run(s, z, false); }, py::arg("z"),
            "Coarse-to-fine search of z (N, K): (statistic float32 (N,), fine-grid index int32 (N,); -1 for "
            "a non-finite snapshot).")
        .def(
            "fine_search", [](const maprt_search& s, carray z) { return maprt_run(s, z, true); }, py::arg("z"),
            "Exhaustive search of the fine grid (reference).")
        .def(
            "theta",
            [](const maprt_search& s, py::array_t<std::int32_t, py::array::forcecast> index) {
                py::array_t<float> out(index.size());
                for (py::ssize_t i = 0; i < index.size(); i++) {
                    out.mutable_data()[i] = s.theta(index.data()[i]);
                }
                return out;
            },
            py::arg("index"), "theta (radians, float32) of fine-grid indices; NaN for -1.");

    // ---- blocks --------------------------------------------------------------------
    using namespace gr::isac_ae;

    py::class_<comm_channel, gr::sync_block, gr::block, gr::basic_block, std::shared_ptr<comm_channel>>(
        m, "comm_channel",
        "Rayleigh MISO comm channel, eq. (2). In: y, v (vlen K). Out: z_c, kappa (complex), vartheta "
        "(float, rad). Sector in degrees.")
        .def(py::init(&comm_channel::make), py::arg("K"), py::arg("positions"), py::arg("snr_db"),
             py::arg("min_deg"), py::arg("max_deg"), py::arg("seed"))
        .def("set_snr_db", &comm_channel::set_snr_db, py::arg("snr_db"))
        .def("snr_db", &comm_channel::snr_db)
        .def("set_sector", &comm_channel::set_sector, py::arg("min_deg"), py::arg("max_deg"),
             "New receiver sector, degrees.")
        .def("sector", &comm_channel::sector, "[min, max] in degrees.")
        .def("positions", &comm_channel::positions);

    py::class_<radar_channel, gr::sync_block, gr::block, gr::basic_block, std::shared_ptr<radar_channel>>(
        m, "radar_channel",
        "Single-target radar channel, eq. (1). In: y (vlen K). Out: z_r (vlen K), t (byte), theta (float, rad). "
        "Sector in degrees.")
        .def(py::init(&radar_channel::make), py::arg("K"), py::arg("positions"), py::arg("snr_db"),
             py::arg("min_deg"), py::arg("max_deg"), py::arg("p_target"), py::arg("seed"))
        .def("set_snr_db", &radar_channel::set_snr_db, py::arg("snr_db"))
        .def("snr_db", &radar_channel::snr_db)
        .def("set_sector", &radar_channel::set_sector, py::arg("min_deg"), py::arg("max_deg"),
             "New target sector, degrees.")
        .def("sector", &radar_channel::sector, "[min, max] in degrees.")
        .def("set_p_target", &radar_channel::set_p_target, py::arg("p_target"))
        .def("p_target", &radar_channel::p_target)
        .def("positions", &radar_channel::positions);

    py::class_<weights_transmitter, gr::sync_block, gr::block, gr::basic_block,
               std::shared_ptr<weights_transmitter>>(
        m, "weights_transmitter",
        "Fixed-beam transmitter. In: message index (byte). Out: y = x(m) w, v = w (vlen K).")
        .def(py::init(&weights_transmitter::make), py::arg("K"), py::arg("constellation"), py::arg("weights"))
        .def("set_weights", &weights_transmitter::set_weights, py::arg("weights"))
        .def("weights", &weights_transmitter::weights)
        .def("set_constellation", &weights_transmitter::set_constellation, py::arg("constellation"))
        .def("constellation", &weights_transmitter::constellation);

    py::class_<ml_detector, gr::sync_block, gr::block, gr::basic_block, std::shared_ptr<ml_detector>>(
        m, "ml_detector", "ML comm receiver with CSI, eq. (11). In: z_c, kappa (complex). Out: index (byte).")
        .def(py::init(&ml_detector::make), py::arg("constellation"))
        .def("set_constellation", &ml_detector::set_constellation, py::arg("constellation"))
        .def("constellation", &ml_detector::constellation);

    py::class_<maprt_detector, gr::sync_block, gr::block, gr::basic_block, std::shared_ptr<maprt_detector>>(
        m, "maprt_detector",
        "MAPRT radar receiver. In: z_r (vlen K). Out: statistic (float), theta_hat (float, rad), detection "
        "(byte). Sector in degrees.")
        .def(py::init(&maprt_detector::make), py::arg("K"), py::arg("positions"), py::arg("min_deg"),
             py::arg("max_deg"), py::arg("threshold"), py::arg("fine_step_u") = 2e-4,
             py::arg("refine_factor") = 10, py::arg("levels") = 2, py::arg("candidates") = 3)
        .def("set_threshold", &maprt_detector::set_threshold, py::arg("threshold"))
        .def("threshold", &maprt_detector::threshold)
        .def("set_sector", py::overload_cast<double, double>(&maprt_detector::set_sector), py::arg("min_deg"),
             py::arg("max_deg"), "New prior sector, degrees; keeps the threshold.")
        .def("set_sector", py::overload_cast<double, double, float>(&maprt_detector::set_sector),
             py::arg("min_deg"), py::arg("max_deg"), py::arg("threshold"),
             "New prior sector (degrees) and its threshold, swapped in together.")
        .def("sector", &maprt_detector::sector, "[min, max] in degrees.")
        .def("positions", &maprt_detector::positions);
}
