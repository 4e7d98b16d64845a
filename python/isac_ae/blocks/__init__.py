"""GNU Radio blocks of gr-isac_ae (need GNU Radio and the compiled module).

Import the submodules explicitly, e.g. ``from isac_ae.blocks import cpp_channels``.
The ``cpp_*`` modules are thin Python wrappers of the C++ blocks bound in
``isac_ae.isac_ae_python``: they take the user-facing units (angles in degrees)
and return the C++ blocks (or a hier block around one).
"""

try:
    from gnuradio import gr  # noqa: F401  (every block needs it: fail here, once, with a clear message)
except ImportError as exc:  # the core works without GNU Radio; the blocks do not
    raise ImportError(
        f"isac_ae.blocks needs GNU Radio ({exc}); install Debian's gnuradio and use a venv "
        "made with --system-site-packages"
    ) from exc
