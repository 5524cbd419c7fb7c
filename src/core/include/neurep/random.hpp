// Counter-based random streams (Random123 Philox4x64-10, DESIGN 2.2).
//
// Every random quantity is a pure function of (master seed, seed index,
// stream, i, j, k): sample i of the training stream is the same whatever n,
// the grid, or the rank that makes it. The key is (master seed, seed index);
// the counter is (stream, k, i, j/2), and one Box-Muller pair serves columns
// 2c and 2c+1 of a row.
#pragma once

#include <cstdint>

namespace neurep {

enum class Stream : uint64_t {
  TrainInput = 1,
  TestInput = 2,
  UnlabeledInput = 3,
  TargetDirections = 4,
  LabelNoise = 5,
  FeatureWeights = 6,   // V of the representation (k = layer)
  FeatureBias = 7,      // b of the representation (k = layer)
  TaylorInit = 8,       // W_0 of the trainable network
  OutputSigns = 9,      // a of the trainable network
  InitialMovement = 10, // initial W
  SignFlips = 11,       // s_r per step (k = step)
  Split = 12,           // validation split assignments
};

class RandomStreams {
 public:
  RandomStreams(uint64_t master_seed, uint64_t seed_index)
      : master_seed_(master_seed), seed_index_(seed_index) {}

  // Standard normal N(0, 1).
  double gaussian(Stream s, uint64_t i, uint64_t j, uint64_t k = 0) const;
  // Uniform in the open interval (0, 1).
  double uniform(Stream s, uint64_t i, uint64_t j, uint64_t k = 0) const;
  // +1 or -1 with equal probability.
  double sign(Stream s, uint64_t i, uint64_t j, uint64_t k = 0) const {
    return uniform(s, i, j, k) < 0.5 ? 1.0 : -1.0;
  }

 private:
  uint64_t master_seed_;
  uint64_t seed_index_;
};

}  // namespace neurep
