find_package(PkgConfig)

PKG_CHECK_MODULES(PC_GR_ISAC_AE gnuradio-isac_ae)

FIND_PATH(
    GR_ISAC_AE_INCLUDE_DIRS
    NAMES gnuradio/isac_ae/api.h
    HINTS $ENV{ISAC_AE_DIR}/include
        ${PC_ISAC_AE_INCLUDEDIR}
    PATHS ${CMAKE_INSTALL_PREFIX}/include
          /usr/local/include
          /usr/include
)

FIND_LIBRARY(
    GR_ISAC_AE_LIBRARIES
    NAMES gnuradio-isac_ae
    HINTS $ENV{ISAC_AE_DIR}/lib
        ${PC_ISAC_AE_LIBDIR}
    PATHS ${CMAKE_INSTALL_PREFIX}/lib
          ${CMAKE_INSTALL_PREFIX}/lib64
          /usr/local/lib
          /usr/local/lib64
          /usr/lib
          /usr/lib64
          )

include("${CMAKE_CURRENT_LIST_DIR}/gnuradio-isac_aeTarget.cmake")

INCLUDE(FindPackageHandleStandardArgs)
FIND_PACKAGE_HANDLE_STANDARD_ARGS(GR_ISAC_AE DEFAULT_MSG GR_ISAC_AE_LIBRARIES GR_ISAC_AE_INCLUDE_DIRS)
MARK_AS_ADVANCED(GR_ISAC_AE_LIBRARIES GR_ISAC_AE_INCLUDE_DIRS)
