"""Quad on cubic features end to end: with phi(t) = t^3 and the bias, D = 2 C(d+3, 3)
units span the polynomials of degree <= 3 in x, so the quadratic Taylor model on
h learns a degree-3 target at d = 4 (D = 70, n = 1000) to a test error below 1e-3
of Var f*; the row names its input h:cubic:..., and the campaign's p = 6
configuration (jobs/campaigns/paper-2/part5b/p6_quad_h_cubic.toml) is accepted."""
import os

from common import Runner, parse_args, read_results, run_checks

CONFIG = """
[data]
input = "sphere"
dim = 4
degrees = [3]
n_test = 1000
[representation]
kind = "random"
activation = "cubic"
width = "(d+1)*(d+2)*(d+3)/3"
bias = true
whiten = "zca"
[learner]
kind = "taylor"
order = 2
input_bias = true
init_scale = 0.1
momentum = 0.9
steps = 4000
eval_every = 25
validation_fraction = 0.2
patience = 20
activation = "quadratic"
m = 8
learning_rate = 0.1
regularizer = 0.0
[sweep]
n_train = [1000]
seeds = 1
"""


def main():
    r = Runner(parse_args())
    cfg = r.write("cubic.toml", CONFIG)
    out = r.path("cubic.h5")
    rc, _, err = r.run("run", cfg, "-o", out, "-q", np_=2)
    r.check(rc == 0, f"neurep run (rc {rc}) {err.strip()[:200]}")
    if rc == 0:
        res = read_results(out)
        r.check(list(res["input"]) == ["h:cubic:D=(d+1)*(d+2)*(d+3)/3:zca"], f"input label {list(res['input'])}")
        r.check(list(res["width"]) == [70], f"D = 2 C(7, 3) = 70 at d = 4: {list(res['width'])}")
        r.check(list(res["status"]) == ["ok"], f"status {list(res['status'])}")
        err_ = float(res["test_error"][0])
        r.check(err_ < 1e-3, f"Quad on cubic features, degree-3 target: test error {err_:.2e} < 1e-3")
    campaign = os.path.join(r.source, "jobs/campaigns/paper-2/part5b/p6_quad_h_cubic.toml")
    rc, _, err = r.run("check", campaign)
    r.check(rc == 0, f"neurep check {os.path.relpath(campaign, r.source)} (rc {rc}) {err.strip()[:200]}")
    r.finish()


if __name__ == "__main__":
    run_checks(main)
