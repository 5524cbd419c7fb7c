"""Write HDF5 files in the exact layout the C++ writes (DESIGN 3.2), for tests.

Strings are fixed-length bytes (numpy 'S'), datasets chunked and extendible,
as the C++ writes them, so the reader is tested against what it will meet.
"""

import math

import h5py
import numpy as np

ROOT_ATTRS = {
    "software": "neurep", "version": "0.1.0", "git_revision": "0123abc",
    "created": "2025-01-01T00:00:00Z", "command_line": "neurep run crafted.toml",
    "mpi_ranks": 2, "grid": "1x2", "blas": "OpenBLAS", "host": "testhost",
}

STRING_COLS = ("learner", "input", "status")


def config_toml(degrees=(4,), coefficients=(1.0,), input="sphere", normalize=True,
                noise=0.0, dim=8, learner_kind="kernel", representation="none"):
    return "\n".join([
        "[data]",
        "dim = %d" % dim,
        'input = "%s"' % input,
        "degrees = [%s]" % ", ".join(str(int(p)) for p in degrees),
        "coefficients = [%s]" % ", ".join(repr(float(a)) for a in coefficients),
        "normalize = %s" % ("true" if normalize else "false"),
        "noise = %r" % float(noise),
        "n_test = 4000",
        "",
        "[representation]",
        'kind = "%s"' % representation,
        'width = "2*d^2"',
        "",
        "[learner]",
        'kind = "%s"' % learner_kind,
        'kernel = "ntk"',
        "ridge = [1e-6]",
        "",
        "[sweep]",
        "dims = []",
        "n_train = [256, 512, 1024]",
        "seeds = 3",
        "",
        "[run]",
        "seed = 2020",
        "",
    ])


def _fixed(strings):
    strings = [s.encode("ascii") for s in strings]
    width = max([len(s) for s in strings] + [1])
    return np.array(strings, dtype="S%d" % width)


def write(path, rows, status="complete", toml=None, config_attrs=True, curves=(),
          root_attrs=None, drop=(), results=True, software="neurep", complexity=(), **target):
    """Write a results file with `rows` (list of dicts) under /results.

    target keywords go to config_toml.  toml=False writes no TOML text (the
    reader then falls back to the section.key attributes).  drop removes
    root attributes (e.g. "status").
    """
    text = config_toml(**target) if toml is None else toml
    with h5py.File(path, "w") as f:
        attrs = dict(ROOT_ATTRS, status=status)
        if software is None:
            attrs.pop("software")
        else:
            attrs["software"] = software
        attrs.update(root_attrs or {})
        for k, v in attrs.items():
            if k in drop:
                continue
            f.attrs[k] = np.bytes_(v) if isinstance(v, str) else v
        g = f.create_group("config")
        if text is not False:
            g.create_dataset("toml", data=np.bytes_(text))
        if config_attrs:
            g.attrs["data.degrees"] = np.array(target.get("degrees", (4,)), dtype=np.int64)
            g.attrs["data.coefficients"] = np.array(target.get("coefficients", (1.0,)),
                                                    dtype=float)
            g.attrs["data.input"] = np.bytes_(target.get("input", "sphere"))
            g.attrs["data.normalize"] = np.int8(target.get("normalize", True))
            g.attrs["data.noise"] = float(target.get("noise", 0.0))
            g.attrs["data.dim"] = np.int64(target.get("dim", 8))
            g.attrs["learner.kind"] = np.bytes_(target.get("learner_kind", "kernel"))
        if results:
            r = f.create_group("results")
            names = list(rows[0]) if rows else ["d", "n", "seed", "ridge", "learner",
                                                  "input", "width", "test_error",
                                                  "train_error", "seconds", "flops",
                                                  "status"]
            for name in names:
                vals = [row[name] for row in rows]
                if name in STRING_COLS or (vals and isinstance(vals[0], str)):
                    data = _fixed(vals) if vals else np.zeros(0, dtype="S16")
                elif name in ("d", "n", "seed", "width", "m", "steps_run"):
                    data = np.array(vals, dtype=np.int64)
                else:
                    data = np.array(vals, dtype=float)
                r.create_dataset(name, data=data, maxshape=(None,), chunks=(64,))
        if complexity:  # /complexity of a search: a row per (d, seed, target), as the C++ writes it
            cg = f.create_group("complexity")
            for name in ("d", "seed", "learner", "input", "target", "n_lo", "n_hi", "error_lo",
                         "error_hi", "n_eps", "points", "status"):
                vals = [c[name] for c in complexity]
                data = _fixed(vals) if isinstance(vals[0], str) else \
                    np.array(vals, dtype=np.int64 if name in ("d", "seed", "n_lo", "n_hi", "points")
                             else float)
                cg.create_dataset(name, data=data)
        if curves:
            cg = f.create_group("curves")
            for i, c in enumerate(curves):
                h = cg.create_group(c.get("name", "point%04d" % i))
                for key in ("step", "train_loss", "test_error", "weight_norm"):
                    h.create_dataset(key, data=np.asarray(c[key], dtype=float),
                                     maxshape=(None,), chunks=(64,))
                for key in ("d", "n", "seed"):
                    h.attrs[key] = np.int64(c[key])
                for key in ("learner", "input"):
                    h.attrs[key] = np.bytes_(c[key])


def row(d, n, seed, test_error, learner="kernel:ntk", input="x", ridge=1e-6,
        status="ok", width=0, train_error=None, **extra):
    r = {"d": d, "n": n, "seed": seed, "ridge": ridge, "learner": learner, "input": input,
         "width": width, "test_error": test_error,
         "train_error": test_error / 10 if train_error is None else train_error,
         "seconds": 0.01 * n, "flops": 2.0 * n * n * d, "status": status}
    r.update(extra)
    return r


def power_law_rows(k, ds, ns, seeds=5, c=1.0, sigma=0.15, rng_seed=0, learner="kernel:ntk",
                   input="x", ridge=1e-6, point_sigma=0.05):
    """Rows with error(n, d, seed) = min(1, c d^k / n * exp(noise)).

    The noise has a per-(d, seed) part (a seed's data is easier or harder at
    every n) and a small per-point part, so n_eps(0.1) is 10 c d^k up to noise.
    """
    rng = np.random.default_rng(rng_seed)
    out = []
    for d in ds:
        for s in range(seeds):
            z = rng.normal() * sigma
            for n in ns:
                e = min(1.0, c * d ** k / n * math.exp(z + point_sigma * rng.normal()))
                out.append(row(d, n, s, e, learner=learner, input=input, ridge=ridge))
    return out


def curve(d, n, seed, steps=40, learner="taylor:order=2", input="x"):
    step = np.arange(0, steps * 50, 50)
    loss = 1.0 / (1.0 + 0.01 * step) + 1e-3
    return {"d": d, "n": n, "seed": seed, "learner": learner, "input": input,
            "step": step, "train_loss": loss, "test_error": loss * 1.5 + 0.05,
            "weight_norm": np.sqrt(step + 1.0)}


def search_row(d, seed, target, n_lo, n_hi, n_eps, status="reached", learner="kernel:ntk",
               input="x", points=7):
    """A /complexity row (a search's result for one (d, seed, target))."""
    return {"d": d, "seed": seed, "learner": learner, "input": input, "target": target,
            "n_lo": n_lo, "n_hi": n_hi, "error_lo": target * 1.1 if n_lo else math.nan,
            "error_hi": target * 0.9 if n_hi else math.nan, "n_eps": n_eps, "points": points,
            "status": status}
