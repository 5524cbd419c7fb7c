// The ETA's estimate of a run's searches (SearchWork, progress.hpp): a pure
// function of the searches' bounds and what their points cost in weights,
// no clocks.
#include <catch2/catch.hpp>

#include "neurep/progress.hpp"

using namespace neurep;

TEST_CASE("SearchWork: the bounds until a search finishes, then the bounds scaled by the share the finished spent") {
  SearchWork w;
  // Three seeds at d = 8 (bound 100 each), two at d = 16 (bound 400 each).
  for (int64_t seed = 0; seed < 3; ++seed) w.add(8, seed, 100);
  for (int64_t seed = 0; seed < 2; ++seed) w.add(16, seed, 400);
  CHECK(w.expected_total() == Approx(1100));  // nothing finished: the upper bounds
  CHECK(w.share(8) == 1.0);
  // The first search spends 10 and is not over yet: still its bound.
  w.spent(8, 0, 4);
  w.spent(8, 0, 6);
  CHECK(w.expected_total() == Approx(1100));
  w.finished(8, 0);
  // It spent a tenth of its bound: so are expected the others, at d = 8 and (no search there finished) at d = 16.
  CHECK(w.share(8) == Approx(0.1));
  CHECK(w.share(16) == Approx(0.1));
  CHECK(w.expected_total() == Approx(10 + 2 * 10 + 2 * 40));
  // A running search that has spent more than that counts at what it spent.
  w.spent(8, 1, 25);
  CHECK(w.expected_total() == Approx(10 + 25 + 10 + 2 * 40));
  w.finished(8, 1);
  // d = 8's share: (10 + 25) / 200; d = 16 uses it until one of its own finishes.
  CHECK(w.share(8) == Approx(0.175));
  CHECK(w.expected_total() == Approx(10 + 25 + 17.5 + 2 * 0.175 * 400));
  w.spent(8, 2, 5);
  w.finished(8, 2);
  w.spent(16, 0, 200);
  w.finished(16, 0);
  // d = 16 now by its own search (half its bound), not by d = 8's smaller share.
  CHECK(w.share(16) == Approx(0.5));
  CHECK(w.share(8) == Approx(40.0 / 300.0));
  CHECK(w.expected_total() == Approx(10 + 25 + 5 + 200 + 200));
  w.spent(16, 1, 100);
  w.finished(16, 1);
  // All over: what they spent.
  CHECK(w.expected_total() == Approx(10 + 25 + 5 + 200 + 100));
}

TEST_CASE("SearchWork: a search finished before the run (resumed, nothing spent) teaches nothing") {
  SearchWork w;
  w.add(8, 0, 50);  // its bisections are still in its bound, but it is over: nothing spent
  w.add(8, 1, 100);
  w.finished(8, 0);
  CHECK(w.share(8) == 1.0);
  CHECK(w.expected_total() == Approx(100));
  w.spent(8, 1, 30);
  w.finished(8, 1);
  w.add(8, 2, 100);
  CHECK(w.share(8) == Approx(0.3));
  CHECK(w.expected_total() == Approx(30 + 30));
}

TEST_CASE("SearchWork: the same estimate whatever order the searches are added and finished in") {
  SearchWork a, b;
  a.add(8, 0, 100), a.add(8, 1, 100), a.add(12, 0, 300);
  b.add(12, 0, 300), b.add(8, 1, 100), b.add(8, 0, 100);
  a.spent(8, 0, 20), a.finished(8, 0), a.spent(8, 1, 40), a.finished(8, 1);
  b.spent(8, 1, 40), b.finished(8, 1), b.spent(8, 0, 20), b.finished(8, 0);
  CHECK(a.expected_total() == Approx(b.expected_total()));
  CHECK(a.expected_total() == Approx(60 + 0.3 * 300));
}
