# Spack recipe of neurep. This folder is a Spack package repository
# (repo.yaml, packages/neurep/package.py -> this file):
#
#   spack repo add /path/to/neurep/packaging/spack
#   spack install neurep@main            # clones the main branch of this checkout
#   spack install neurep@main ^openblas  # or ^intel-oneapi-mkl, ^netlib-scalapack, ^mpich ...
#   spack load neurep                    # neurep on PATH, NEUREP_HOME, PYTHONPATH
#
# To build another copy of the repository, export NEUREP_GIT_URL (a git URL
# or file:///path) before `spack install`. `spack install --test=root` also
# builds and runs the test suite (Catch2 v2, h5py, NumPy).
import os

from spack.package import *

try:  # Spack >= 1.0: the build systems live in the builtin package repository
    from spack_repo.builtin.build_systems.cmake import CMakePackage
except ImportError:  # Spack 0.x: CMakePackage comes from spack.package
    pass

# packaging/spack/package.py -> the checkout (realpath: packages/neurep/package.py is a link to it)
_CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


class Neurep(CMakePackage):
    """Sample complexity of learners on raw inputs and on random neural
    representations (Chen, Bai, Lee et al., NeurIPS 2020): kernel regression
    and Taylor models on a ScaLAPACK process grid, results in parallel HDF5,
    Python analysis."""

    homepage = "file://" + _CHECKOUT
    git = os.environ.get("NEUREP_GIT_URL", "file://" + _CHECKOUT)

    license("BSD-3-Clause")

    version("main", branch="main")

    variant("python", default=True, description="install the Python analysis package and its dependencies")

    depends_on("c", type="build")
    depends_on("cxx", type="build")
    depends_on("cmake@3.18:", type="build")

    depends_on("mpi")
    depends_on("hdf5@1.10:+mpi")  # parallel HDF5; CMake refuses a serial one
    depends_on("scalapack")
    depends_on("lapack")
    depends_on("blas")
    depends_on("boost@1.74:+mpi+serialization")
    depends_on("tomlplusplus@3:")
    depends_on("fmt@8:")
    depends_on("cli11@2:")
    depends_on("random123")

    depends_on("catch2@2", type="test")
    depends_on("py-h5py", type="test")
    depends_on("py-numpy", type="test")

    with when("+python"):
        depends_on("python@3.9:", type="run")
        depends_on("py-numpy", type="run")
        depends_on("py-h5py", type="run")
        depends_on("py-matplotlib", type="run")
        depends_on("py-pandas", type="run")
        depends_on("py-scipy", type="run")

    def cmake_args(self):
        spec = self.spec
        args = [
            # Spack's dependencies are found through CMake's modules and these
            # variables; never through the system's pkg-config names.
            self.define("CMAKE_DISABLE_FIND_PACKAGE_PkgConfig", True),
            self.define("MPI_HOME", spec["mpi"].prefix),
            self.define("HDF5_ROOT", spec["hdf5"].prefix),
            self.define("SCALAPACK_LIBRARIES", spec["scalapack"].libs.joined(";")),
            self.define("LAPACK_LIBRARIES", spec["lapack"].libs.joined(";")),
            self.define("BLAS_LIBRARIES", spec["blas"].libs.joined(";")),
            self.define("RANDOM123_ROOT", spec["random123"].prefix),
            self.define("BUILD_TESTING", self.run_tests),
        ]
        return args

    def setup_run_environment(self, env):
        share = join_path(self.prefix.share, "neurep")
        # The job scripts (NEUREP_HOME/jobs/slurm, jobs/local) find bin/neurep
        # beside share/neurep; the analysis package is in share/neurep/python.
        env.set("NEUREP_HOME", share)
        if self.spec.satisfies("+python"):
            env.prepend_path("PYTHONPATH", join_path(share, "python"))
