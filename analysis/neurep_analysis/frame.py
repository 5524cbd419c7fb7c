"""Results files as pandas DataFrames: `load(paths)` and `load_curves(paths)`.

One row of `load` is one row of a file's /results table (one fit: a point
(d, n, seed) with one ridge or candidate setting), with

- decoded strings: `learner`, `input`, `status`;
- the learner split: `learner_kind` ("kernel", "taylor", "linear"), `kernel` (ntk, nngp,
  linear, ...) or `order` ("1", "2", "full");
- the input split: `representation` ("x" raw input, "h" a random
  representation), `activation`, `D` (the representation's width as a number;
  NaN for x and for the infinite-width limit), `D_rule` (as configured, e.g.
  "2*d^2"), `whitening` ("zca", "center", "none"), `infinite`, `depth`;
- candidate settings: `candidate` (index, -1 when the run had one), `m`,
  `learning_rate`, `regularizer` (taylor rows: the penalty weight, the file's
  regularizer column, or its ridge column in files written before it), `ridge` (kernel rows), `best_step`, `steps_run`;
- `selected`: True for the row the run chose on its validation split (the
  file's `selected` = 1). A point (file, learner, input, d, n, seed) that made
  no choice - a single row, or a file without the column and one row per
  point - has that row selected; a point whose every candidate failed
  (diverged), so that the run chose nothing, has its first row selected,
  which counts as the failure it is. A point with several rows and no choice
  among them has none selected;
- errors, all divided by Var f* (the variance of the noise-free target):
  `train_error` = mean squared error on the training points the model was
  fitted to, against their labels y = f*(x) + noise (so with label noise it
  includes the noise: a perfect fit of f* has train_error ~ tau^2 / Var f*,
  tau = data.noise, while a fit that interpolates the noise has ~0);
  `validation_error` = the same on the held-out validation part of the n
  training points (noisy labels too; for kernels with ridge_selection = "loo"
  the leave-one-out error on all n); `test_error` = mean squared error
  against f* itself (no noise) on `data.n_test` fresh points. `failed` marks
  rows counted as +inf (status diverged or not-converged, or a NaN/inf test error);
- target settings: `target` (all of them as one text, e.g. "degrees 4,
  coefficients 1, sphere, noise 0"), `target_degrees`, `target_coefficients` (as text, e.g.
  "4" and "1"), `target_p` (the largest degree), `target_input` ("sphere" or
  "gaussian"), `target_normalize`, `noise`, `n_test`;
- provenance: `file` (the path given), `file_status` (complete, running, ...),
  `version`, `git_revision`, `created`, `host`, `mpi_ranks`, `run_seed`.

Every other numeric column of /results (seconds_kernel, jitter, weight_norm,
target_mean, ...) is carried through under its own name.
"""

import re

import numpy as np
import pandas as pd

from .resultfile import FAILED_STATUSES, NeurepError, config_get, load_many

_INPUT_RE = re.compile(r"^h:(?P<activation>[^:]+):(?P<size>inf|D=[^:]+)(?::(?P<rest>.*))?$")


def split_input(label):
    """"h:relu:D=2*d^2:zca" -> dict(representation="h", activation="relu",
    D_rule="2*d^2", whitening="zca", infinite=False, depth=1); "x" -> raw input."""
    out = {"representation": label, "activation": None, "D_rule": None,
           "whitening": None, "infinite": False, "depth": np.nan}
    if label == "x":
        out.update(representation="x", whitening="none", depth=0)
        return out
    m = _INPUT_RE.match(label)
    if not m:
        return out
    rest = [p for p in (m.group("rest") or "").split(":") if p]
    depth = 1
    for p in list(rest):
        if p.startswith("depth="):
            depth = int(p[len("depth="):])
            rest.remove(p)
    infinite = m.group("size") == "inf"
    out.update(representation="h", activation=m.group("activation"), infinite=infinite,
               D_rule=None if infinite else m.group("size")[2:], depth=depth,
               whitening=rest[0] if rest else "none")
    return out


def split_learner(label):
    """"kernel:ntk" -> ("kernel", kernel="ntk"); "taylor:order=2" -> ("taylor", order="2")."""
    kind, _, rest = label.partition(":")
    out = {"learner_kind": kind, "kernel": None, "order": None}
    if kind == "kernel":
        out["kernel"] = rest
    elif kind == "taylor":
        out["order"] = rest.partition("=")[2] if rest.startswith("order=") else rest
    return out


def _text(values):
    return ", ".join("%g" % v if isinstance(v, float) else str(v) for v in np.atleast_1d(values))


def _select_rows(df):
    """The `selected` column described in the module docstring."""
    sel = df["selected_in_file"].to_numpy() == 1
    keys = ["file", "learner", "input", "d", "n", "seed"]
    grouped = df.groupby(keys, sort=False).indices
    failed = df["failed"].to_numpy()
    for idx in grouped.values():
        if sel[idx].any():
            if sel[idx].sum() > 1:   # a hand-made file: keep the first choice only
                sel[idx[sel[idx]][1:]] = False
            continue
        if len(idx) == 1 or failed[idx].all():
            sel[idx[0]] = True
    return sel


def frame(table):
    """The DataFrame of a resultfile.Table (rows of validated files)."""
    c = table.columns
    cols = {k: v for k, v in c.items() if k != "file"}
    df = pd.DataFrame(cols)
    files = table.files
    fidx = c["file"]
    df.insert(0, "file", [files[i].path for i in fidx])
    n = len(df)
    # learner and input split
    lsplit = {lab: split_learner(lab) for lab in set(df["learner"])}
    for k in ("learner_kind", "kernel", "order"):
        df[k] = [lsplit[lab][k] for lab in df["learner"]]
    isplit = {lab: split_input(lab) for lab in set(df["input"])}
    for k in ("representation", "activation", "D_rule", "whitening", "infinite", "depth"):
        df[k] = [isplit[lab][k] for lab in df["input"]]
    width = df["width"].astype(float)
    df["D"] = np.where((df["representation"] == "h") & ~df["infinite"].astype(bool) & (width > 0),
                       width, np.nan)
    # candidate settings
    for k in ("candidate", "m", "learning_rate", "best_step", "steps_run", "validation_error"):
        if k not in df:
            df[k] = np.nan
    df["candidate"] = df["candidate"].fillna(-1).astype(np.int64)
    taylor = (df["learner_kind"] == "taylor").to_numpy()
    # Taylor lambda: the regularizer column; files before it kept lambda in ridge.
    reg = df["regularizer"].to_numpy(dtype=float) if "regularizer" in df else np.full(len(df), np.nan)
    df["regularizer"] = np.where(taylor & np.isnan(reg), df["ridge"], reg)
    te = df["test_error"].to_numpy(dtype=float)
    df["failed"] = ~np.isfinite(te) | np.isin(df["status"].to_numpy(dtype=object), FAILED_STATUSES)
    df["selected_in_file"] = df["selected"] if "selected" in df else np.nan
    df["selected"] = _select_rows(df)
    # target settings and provenance, per file
    per_file = []
    for f in files:
        cfg = f.config
        t = f.target()
        a = f.attrs
        per_file.append({
            "target": "degrees %s, coefficients %s, %s, noise %g%s" % (
                _text(t["data.degrees"]), _text(t["data.coefficients"]), t["data.input"],
                float(t["data.noise"]), "" if t["data.normalize"] else ", not normalised"),
            "target_degrees": _text(t["data.degrees"]),
            "target_coefficients": _text(t["data.coefficients"]),
            "target_p": max(f.degrees()),
            "target_input": str(t["data.input"]),
            "target_normalize": bool(t["data.normalize"]),
            "noise": float(t["data.noise"]),
            "n_test": config_get(cfg, "data.n_test", np.nan),
            "file_status": f.status,
            "version": a.get("version"), "git_revision": a.get("git_revision"),
            "created": a.get("created"), "host": a.get("host"),
            "mpi_ranks": a.get("mpi_ranks"), "run_seed": config_get(cfg, "run.seed", np.nan),
        })
    for k in per_file[0] if per_file else ():
        df[k] = [per_file[i][k] for i in fidx]
    df.attrs["files"] = [f.path for f in files]
    if any(f.complexity is not None for f in files):  # searches: stats.complexity reads them
        df.attrs["complexity"] = complexity_frame(table).to_dict("list")
    assert len(df) == n
    return df


def load(paths, allow_mixed=False):
    """Read neurep results files into one pandas DataFrame (see the module docstring).

    `paths` is a path or a list of paths. The files are validated as by the
    command line (NeurepError on bad input, NeurepWarning for unfinished
    runs), and files with different targets are refused unless allow_mixed.
    """
    if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__"):
        paths = [paths]
    return frame(load_many(list(paths), allow_mixed))


_CURVE_NAME = re.compile(r"_c(\d+)$")


def curves_frame(table):
    """Long DataFrame of the /curves of a Table loaded with curves=True."""
    parts = []
    for f in table.files:
        for c in f.curves:
            m = _CURVE_NAME.search(c["name"])
            k = len(c["step"])
            part = {"file": [f.path] * k, "curve": [c["name"]] * k,
                    "learner": [str(c.get("learner", ""))] * k,
                    "input": [str(c.get("input", ""))] * k,
                    "d": np.full(k, int(c.get("d", -1))), "n": np.full(k, int(c.get("n", -1))),
                    "seed": np.full(k, int(c.get("seed", -1))),
                    "candidate": np.full(k, int(m.group(1)) if m else -1)}
            for key in ("step", "train_loss", "train_error", "validation_error", "test_error",
                        "weight_norm"):
                v = c.get(key)
                part[key] = np.full(k, np.nan) if v is None or len(v) != k else v
            parts.append(pd.DataFrame(part))
    cols = ["file", "curve", "learner", "input", "d", "n", "seed", "candidate", "step",
            "train_loss", "train_error", "validation_error", "test_error", "weight_norm"]
    if not parts:
        return pd.DataFrame({k: [] for k in cols})
    return pd.concat(parts, ignore_index=True)


def complexity_frame(table):
    """The /complexity tables of a Table's files (those with one) as one DataFrame."""
    cols = ["file", "d", "seed", "learner", "input", "target", "n_lo", "n_hi", "error_lo",
            "error_hi", "n_eps", "points", "status"]
    parts = []
    for f in table.files:
        if f.complexity is None:
            continue
        part = pd.DataFrame({k: f.complexity[k] for k in cols[1:]})
        part.insert(0, "file", f.path)
        parts.append(part)
    if not parts:
        return pd.DataFrame({k: [] for k in cols})
    out = pd.concat(parts, ignore_index=True)
    for k in ("d", "seed", "n_lo", "n_hi", "points"):
        out[k] = out[k].astype(np.int64)
    return out


def load_complexity(paths, allow_mixed=False):
    """The /complexity tables of results files written by a search (sweep.target_error).

    One row per (file, d, seed, learner, input, target): `n_lo`, `n_hi` the
    bracket (error(n_lo) >= target > error(n_hi); 0 where there is none),
    `error_lo`, `error_hi` the test errors of the rows the run selected there,
    `n_eps` the log-log interpolation between them (NaN unless `status` is
    "reached"), `points` the values of n the search of (d, seed) computed, and
    `status`: "reached", "below-n_min" (n_eps < n_min), "floor" (the error
    stopped falling) or "n_max" (not reached by n_max). Files without
    /complexity (grid runs) contribute no rows.
    """
    if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__"):
        paths = [paths]
    return complexity_frame(load_many(list(paths), allow_mixed))


def load_curves(paths, allow_mixed=False):
    """The training curves (/curves) of results files as one long DataFrame.

    One row per (curve, evaluation step): file, curve (its name), learner,
    input, d, n, seed, candidate (-1 when the run had one), step, train_loss,
    train_error, validation_error, test_error, weight_norm (errors defined as
    in `load`), and from the point's /results row: m, learning_rate,
    regularizer, best_step (the step the validation split chose: early
    stopping), steps_run, selected, plus the input split of `load`.
    """
    if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__"):
        paths = [paths]
    table = load_many(list(paths), allow_mixed, curves=True)
    return merge_curves(curves_frame(table), frame(table))


def merge_curves(curves, rows):
    """Attach each curve's candidate settings and choice from its results rows."""
    if curves.empty:
        return curves
    keep = ["file", "learner", "input", "d", "n", "seed", "candidate", "m", "learning_rate",
            "regularizer", "best_step", "steps_run", "selected", "representation",
            "activation", "D", "whitening", "infinite", "target_degrees"]
    # one row per (point, candidate): the taylor learners write one fit per candidate
    info = rows[keep].drop_duplicates(["file", "learner", "input", "d", "n", "seed",
                                       "candidate"])
    out = curves.merge(info, how="left", on=["file", "learner", "input", "d", "n", "seed",
                                              "candidate"])
    out["selected"] = out["selected"].fillna(False).astype(bool)
    if len(out) != len(curves):
        raise NeurepError("curves match several result rows")
    return out
