# Third-party libraries of neurep, found on any cluster, collected in one
# interface target `neurep_deps` that every neurep library links.
#
# Each library is looked for through CMake's own modules or variables first;
# Debian's pkg-config names are one fallback. To choose a library by hand:
#   MPI         MPI_HOME, or the compiler wrappers on PATH (FindMPI)
#   HDF5        HDF5_ROOT, or h5pcc on PATH; must be built with MPI (parallel)
#   BLAS/LAPACK BLA_VENDOR (OpenBLAS, FlexiBLAS, Intel10_64lp, ...) or
#               BLAS_LIBRARIES / LAPACK_LIBRARIES (full paths or -l flags)
#   ScaLAPACK   SCALAPACK_LIBRARIES (e.g. MKL: "mkl_scalapack_lp64;mkl_blacs_openmpi_lp64"),
#               SCALAPACK_ROOT, or scalapack_DIR (a ScaLAPACK CMake package)
#   Random123   RANDOM123_ROOT (header only)
#   Boost, toml++, fmt, CLI11: <Package>_ROOT or CMAKE_PREFIX_PATH
# -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON turns the pkg-config fallback off.

include(CheckSymbolExists)
include(CheckFunctionExists)
include(CMakePushCheckState)

find_package(MPI REQUIRED COMPONENTS C CXX)
find_package(Boost 1.74 REQUIRED COMPONENTS mpi serialization)
find_package(tomlplusplus REQUIRED)
find_package(fmt REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(CLI11 REQUIRED)  # the command line only (linked by the executable)
find_package(PkgConfig QUIET)

add_library(neurep_deps INTERFACE)

# --- parallel HDF5 ---------------------------------------------------------
set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 COMPONENTS C)
set(_neurep_hdf5_inc "")
set(_neurep_hdf5_lib "")
if(HDF5_FOUND)
  set(_neurep_hdf5_inc ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
  set(_neurep_hdf5_lib ${HDF5_C_LIBRARIES} ${HDF5_LIBRARIES})
  list(REMOVE_DUPLICATES _neurep_hdf5_inc)
  list(GET _neurep_hdf5_lib 0 _neurep_hdf5_first)
  set(_neurep_hdf5_how "FindHDF5: ${_neurep_hdf5_first}")
endif()
# Debian's serial and parallel HDF5 share the module's search path; its
# parallel one is always known to pkg-config as hdf5-openmpi.
if((NOT HDF5_FOUND OR NOT HDF5_IS_PARALLEL) AND PKG_CONFIG_FOUND)
  pkg_check_modules(NEUREP_PC_HDF5 QUIET IMPORTED_TARGET hdf5-openmpi)
  if(NEUREP_PC_HDF5_FOUND)
    set(_neurep_hdf5_inc ${NEUREP_PC_HDF5_INCLUDE_DIRS})
    set(_neurep_hdf5_lib PkgConfig::NEUREP_PC_HDF5)
    set(_neurep_hdf5_how "pkg-config hdf5-openmpi")
  endif()
endif()
if(NOT _neurep_hdf5_lib)
  message(FATAL_ERROR "neurep: HDF5 not found. Give the prefix of an MPI-parallel HDF5 with "
    "-DHDF5_ROOT=/path (or put its h5pcc on PATH, e.g. `module load hdf5/mpi`).")
endif()
# The truth is the library's own configuration header, whatever found it.
cmake_push_check_state(RESET)
set(CMAKE_REQUIRED_INCLUDES ${_neurep_hdf5_inc})
set(CMAKE_REQUIRED_QUIET ON)
unset(NEUREP_HDF5_HAVE_PARALLEL CACHE)
check_symbol_exists(H5_HAVE_PARALLEL "H5pubconf.h" NEUREP_HDF5_HAVE_PARALLEL)
cmake_pop_check_state()
if(NOT NEUREP_HDF5_HAVE_PARALLEL)
  message(FATAL_ERROR "neurep: the HDF5 found (${_neurep_hdf5_how}, headers in '${_neurep_hdf5_inc}') "
    "is serial: its H5pubconf.h does not define H5_HAVE_PARALLEL. neurep writes its results "
    "collectively and needs HDF5 built with MPI (Debian: libhdf5-openmpi-dev; Spack: hdf5+mpi; "
    "modules: an hdf5 built for your MPI). Point -DHDF5_ROOT at it.")
endif()
message(STATUS "neurep: parallel HDF5 from ${_neurep_hdf5_how}")
target_include_directories(neurep_deps SYSTEM INTERFACE ${_neurep_hdf5_inc})
target_link_libraries(neurep_deps INTERFACE ${_neurep_hdf5_lib})
if(HDF5_DEFINITIONS AND NOT _neurep_hdf5_how MATCHES "^pkg-config")
  target_compile_definitions(neurep_deps INTERFACE ${HDF5_DEFINITIONS})
endif()

# --- LAPACK and BLAS ---------------------------------------------------------
# FindLAPACK honours BLA_VENDOR and finds BLAS with it; explicit
# LAPACK_LIBRARIES / BLAS_LIBRARIES skip the search.
if(NOT LAPACK_LIBRARIES)
  find_package(LAPACK)
  if(NOT LAPACK_FOUND AND PKG_CONFIG_FOUND)
    pkg_check_modules(NEUREP_PC_OPENBLAS QUIET openblas)
    if(NEUREP_PC_OPENBLAS_FOUND)
      set(LAPACK_LIBRARIES ${NEUREP_PC_OPENBLAS_LINK_LIBRARIES})
    endif()
  endif()
  if(NOT LAPACK_LIBRARIES)
    message(FATAL_ERROR "neurep: LAPACK/BLAS not found. Choose one with -DBLA_VENDOR=OpenBLAS "
      "(or Intel10_64lp, FlexiBLAS, ...) or give -DLAPACK_LIBRARIES=... -DBLAS_LIBRARIES=...")
  endif()
endif()
set(NEUREP_LINALG_LIBRARIES ${LAPACK_LIBRARIES} ${BLAS_LIBRARIES})
list(REMOVE_DUPLICATES NEUREP_LINALG_LIBRARIES)

# --- ScaLAPACK (with BLACS) ------------------------------------------------------
# An INTERNAL SCALAPACK_LIBRARIES is pkg-config's, left in the cache of a build
# folder configured by an older CMakeLists: look again.
get_property(_neurep_type CACHE SCALAPACK_LIBRARIES PROPERTY TYPE)
if(_neurep_type STREQUAL "INTERNAL")
  unset(SCALAPACK_LIBRARIES CACHE)
endif()
set(SCALAPACK_LIBRARIES "" CACHE STRING "ScaLAPACK and BLACS libraries (empty: search)")
if(NOT SCALAPACK_LIBRARIES)
  if(scalapack_DIR OR scalapack_ROOT)
    # A ScaLAPACK CMake package named by the user (Debian's is broken, so it
    # is never looked for unasked).
    find_package(scalapack CONFIG REQUIRED)
    set(_neurep_scalapack scalapack)
  else()
    find_library(SCALAPACK_LIBRARY NAMES scalapack scalapack-openmpi scalapack-mpich
      HINTS ${SCALAPACK_ROOT} ENV SCALAPACK_ROOT PATH_SUFFIXES lib lib64)
    if(SCALAPACK_LIBRARY)
      set(_neurep_scalapack ${SCALAPACK_LIBRARY})
    elseif(PKG_CONFIG_FOUND)
      pkg_check_modules(NEUREP_PC_SCALAPACK QUIET scalapack-openmpi)
      if(NOT NEUREP_PC_SCALAPACK_FOUND)
        pkg_check_modules(NEUREP_PC_SCALAPACK QUIET scalapack)
      endif()
      if(NEUREP_PC_SCALAPACK_FOUND)
        set(_neurep_scalapack ${NEUREP_PC_SCALAPACK_LINK_LIBRARIES})
      endif()
    endif()
  endif()
  if(NOT _neurep_scalapack)
    message(FATAL_ERROR "neurep: ScaLAPACK not found. Give -DSCALAPACK_LIBRARIES=/path/libscalapack.so "
      "(MKL: -DSCALAPACK_LIBRARIES=\"mkl_scalapack_lp64;mkl_blacs_openmpi_lp64\") or -DSCALAPACK_ROOT=/prefix.")
  endif()
else()
  set(_neurep_scalapack ${SCALAPACK_LIBRARIES})
endif()
# Link check: ScaLAPACK and BLACS resolve against this MPI and LAPACK.
cmake_push_check_state(RESET)
set(CMAKE_REQUIRED_LIBRARIES ${_neurep_scalapack} ${NEUREP_LINALG_LIBRARIES} MPI::MPI_C)
set(CMAKE_REQUIRED_QUIET ON)
unset(NEUREP_SCALAPACK_LINKS_PDPOTRF CACHE)
unset(NEUREP_SCALAPACK_LINKS_BLACS CACHE)
check_function_exists(pdpotrf_ NEUREP_SCALAPACK_LINKS_PDPOTRF)
check_function_exists(Cblacs_gridinit NEUREP_SCALAPACK_LINKS_BLACS)
cmake_pop_check_state()
if(NOT NEUREP_SCALAPACK_LINKS_PDPOTRF OR NOT NEUREP_SCALAPACK_LINKS_BLACS)
  unset(NEUREP_SCALAPACK_LINKS_PDPOTRF CACHE)
  unset(NEUREP_SCALAPACK_LINKS_BLACS CACHE)
  message(FATAL_ERROR "neurep: a program calling pdpotrf_ and Cblacs_gridinit does not link with "
    "ScaLAPACK '${_neurep_scalapack}' and LAPACK '${NEUREP_LINALG_LIBRARIES}'. "
    "ScaLAPACK must be built for the MPI found (${MPI_C_LIBRARIES}); with MKL add the BLACS "
    "library of your MPI (mkl_blacs_openmpi_lp64 or mkl_blacs_intelmpi_lp64).")
endif()
message(STATUS "neurep: ScaLAPACK ${_neurep_scalapack}; LAPACK/BLAS ${NEUREP_LINALG_LIBRARIES}")

# --- Random123 (header only) -------------------------------------------------------
find_path(RANDOM123_INCLUDE_DIR Random123/philox.h HINTS ${RANDOM123_ROOT} ENV RANDOM123_ROOT PATH_SUFFIXES include)
if(NOT RANDOM123_INCLUDE_DIR)
  message(FATAL_ERROR "neurep: Random123 headers (Random123/philox.h) not found: -DRANDOM123_ROOT=/prefix "
    "(Debian: librandom123-dev; Spack: random123; or unpack https://github.com/DEShawResearch/random123).")
endif()

target_include_directories(neurep_deps SYSTEM INTERFACE ${RANDOM123_INCLUDE_DIR})
target_link_libraries(neurep_deps INTERFACE
  MPI::MPI_CXX MPI::MPI_C Boost::mpi Boost::serialization
  ${_neurep_scalapack} ${NEUREP_LINALG_LIBRARIES}
  tomlplusplus::tomlplusplus fmt::fmt OpenMP::OpenMP_CXX ${CMAKE_DL_LIBS})
