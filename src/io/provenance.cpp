#include "neurep/provenance.hpp"

#include "neurep_git_revision.h"  // generated at build time

#include <dlfcn.h>
#include <fmt/core.h>
#include <unistd.h>

#include <ctime>

namespace neurep {

std::string version_line() { return fmt::format("neurep {} (git {})", NEUREP_VERSION, NEUREP_GIT_REVISION); }

Provenance collect_provenance() {
  Provenance p;
  p.version = NEUREP_VERSION;
  p.git_revision = NEUREP_GIT_REVISION;
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  p.host = host;
  std::time_t now = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  p.created = buf;
  // OpenBLAS reports itself; looked up at run time so any BLAS links.
  using str_fn = char* (*)();
  if (auto cfg = reinterpret_cast<str_fn>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) p.blas = cfg();
  else p.blas = "unknown BLAS (not OpenBLAS)";
  if (auto core = reinterpret_cast<str_fn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"))) p.blas_core = core();
  else p.blas_core = "unknown";
  return p;
}

std::string blas_kernel_warning(const Provenance& p) {
  const std::string& c = p.blas_core;
  const bool generic = c == "Prescott" || c == "prescott" || c == "Core2" || c == "core2" ||
                       c == "Nehalem" || c == "nehalem" || c == "Generic" || c == "generic";
  if (!generic) return "";
  __builtin_cpu_init();
  const char* fix = __builtin_cpu_supports("avx512f") ? "SkylakeX"
                    : __builtin_cpu_supports("avx2") ? "Haswell" : nullptr;
  if (!fix) return "";
  return fmt::format("warning: OpenBLAS runs its generic '{}' kernel on a processor with {}; "
                     "export OPENBLAS_CORETYPE={} for about 4x faster products",
                     c, fix[0] == 'S' ? "AVX-512" : "AVX2", fix);
}

}  // namespace neurep
