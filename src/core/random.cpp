#include "neurep/random.hpp"

#include <Random123/boxmuller.hpp>
#include <Random123/philox.h>
#include <Random123/uniform.hpp>

namespace neurep {
namespace {
r123::Philox4x64::ctr_type draw(uint64_t master, uint64_t seed, Stream s, uint64_t i, uint64_t j,
                                uint64_t k) {
  r123::Philox4x64 rng;
  r123::Philox4x64::key_type key = {{master, seed}};
  r123::Philox4x64::ctr_type ctr = {{static_cast<uint64_t>(s), k, i, j}};
  return rng(ctr, key);
}
}  // namespace

double RandomStreams::gaussian(Stream s, uint64_t i, uint64_t j, uint64_t k) const {
  const auto r = draw(master_seed_, seed_index_, s, i, j >> 1, k);
  const r123::double2 g = r123::boxmuller(r[0], r[1]);
  return (j & 1) ? g.y : g.x;
}

double RandomStreams::uniform(Stream s, uint64_t i, uint64_t j, uint64_t k) const {
  // A separate counter half (bit 63 of j) keeps uniforms independent of gaussians.
  const auto r = draw(master_seed_, seed_index_, s, i, j | (uint64_t(1) << 63), k);
  return r123::u01<double>(r[0]);
}

}  // namespace neurep
