"""Read and validate neurep results files (HDF5, layout of docs/DESIGN.md 3.2).

Everything the other modules need goes through `load` / `load_many`, so the
checks (is it HDF5, is it neurep, has it /results, has the run finished, do
the targets agree) live in one place and give one clear message each.
"""

import math
import json
import os
import tomllib
import warnings

import h5py
import numpy as np


class NeurepError(Exception):
    """Bad input: the CLI prints the message on one line and exits 2."""


class NeurepWarning(UserWarning):
    """Something the user should know (unfinished run, duplicates, ...)."""


# Columns without which a results table cannot be analysed at all.
REQUIRED_COLUMNS = ("d", "n", "seed", "learner", "input", "test_error")
# Columns the C++ always writes; filled with a neutral value if absent so an
# older or hand-made file still loads.
DEFAULT_COLUMNS = {
    "ridge": math.nan,
    "width": 0,
    "train_error": math.nan,
    "seconds": math.nan,
    "flops": math.nan,
    "status": "ok",
}
STRING_COLUMNS = ("learner", "input", "status")
# Statuses of rows that are not results: a diverged fit, and one whose solver
# or optimisation did not converge (a pcg solve short of its tolerance; a Taylor
# model run with learner.require_converged that failed the convergence rule, so
# that its error is not a floor). They count as test error = +inf.
FAILED_STATUSES = ("diverged", "not-converged")

# The keys that define the target f*: files that differ in any of them measure
# different problems and must not be pooled.
TARGET_KEYS = ("data.degrees", "data.coefficients", "data.input",
               "data.normalize", "data.noise")
# DESIGN 3.1 defaults, used only when a file's configuration lacks the key.
TARGET_DEFAULTS = {"data.degrees": [4], "data.coefficients": [1.0],
                   "data.input": "sphere", "data.normalize": True,
                   "data.noise": 0.0}


def as_str(value):
    """Decode an HDF5 string (bytes, numpy bytes, 0-d or 1-element array) to str.

    The C++ writes fixed-length ASCII strings; h5py hands them back as bytes
    or numpy.bytes_, sometimes wrapped in an array, and padded with NULs.
    """
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise TypeError("expected a scalar string, got shape %s" % (value.shape,))
        value = value.reshape(-1)[0]
    if isinstance(value, (bytes, np.bytes_)):
        value = bytes(value).decode("utf-8", "replace")
    return str(value).rstrip("\x00")


def as_str_array(values):
    """Decode a 1-D array of HDF5 strings to a numpy array of Python str."""
    values = np.asarray(values)
    out = np.empty(values.shape[0], dtype=object)
    for i, v in enumerate(values):
        if isinstance(v, (bytes, np.bytes_)):
            v = bytes(v).decode("utf-8", "replace")
        out[i] = str(v).rstrip("\x00 ")
    return out


def attr_value(value):
    """Turn an HDF5 attribute value into plain Python (str, int, float, list)."""
    if isinstance(value, (bytes, np.bytes_, str)):
        return as_str(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SOU":
            if value.ndim == 0:
                return as_str(value)
            return [as_str(v) for v in value.reshape(-1)]
        if value.ndim == 0:
            return value.item()
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def config_get(config, dotted, default=None):
    """config["data"]["degrees"] as config_get(config, "data.degrees")."""
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


class ResultFile:
    """One results file: root attributes, configuration, the /results columns.

    `columns` maps column name -> 1-D numpy array (strings as object arrays of
    str); all have length `nrows`.  `curves` is filled by load(curves=True).
    """

    def __init__(self, path, attrs, config, config_source, columns, curves, complexity=None):
        self.path = path
        # /complexity of a search (sweep.target_error): column -> array; None without one.
        self.complexity = complexity
        self.attrs = attrs
        self.config = config
        self.config_source = config_source
        self.columns = columns
        self.curves = curves

    @property
    def status(self):
        return self.attrs.get("status", "unknown")

    @property
    def nrows(self):
        return len(self.columns["d"])

    def target(self):
        """The target-defining configuration keys, defaults filled in."""
        out = {}
        for key in TARGET_KEYS:
            out[key] = config_get(self.config, key, TARGET_DEFAULTS[key])
        return out

    def degrees(self):
        deg = config_get(self.config, "data.degrees", TARGET_DEFAULTS["data.degrees"])
        return [int(p) for p in np.atleast_1d(deg)]

    def coefficients(self):
        c = config_get(self.config, "data.coefficients",
                       TARGET_DEFAULTS["data.coefficients"])
        return [float(a) for a in np.atleast_1d(c)]

    def rows(self):
        """The table as a list of row dicts (handy for tests and small files)."""
        names = list(self.columns)
        return [{k: _py(self.columns[k][i]) for k in names} for i in range(self.nrows)]


def _py(v):
    return v.item() if isinstance(v, np.generic) else v


def _open(path):
    """Open read-only without HDF5 file locking, so a running job can be watched."""
    if not os.path.exists(path):
        raise NeurepError("%s: no such file" % path)
    if os.path.isdir(path):
        raise NeurepError("%s: is a directory, not a results file" % path)
    try:
        if not h5py.is_hdf5(path):
            raise NeurepError("%s: not an HDF5 file (so not a neurep results file)" % path)
    except OSError as exc:
        raise NeurepError("%s: cannot read: %s" % (path, exc)) from None
    try:
        try:
            return h5py.File(path, "r", locking=False)
        except (TypeError, ValueError):  # h5py or HDF5 too old for `locking`
            return h5py.File(path, "r")
    except OSError as exc:
        raise NeurepError("%s: cannot open as HDF5: %s" % (path, exc)) from None


def _read_config(f, path):
    """Prefer the TOML text of /config/toml; fall back to the section.key attributes."""
    if "config" not in f:
        warnings.warn("%s: no /config group; target and theory exponents unknown"
                      % path, NeurepWarning, stacklevel=3)
        return {}, "missing"
    group = f["config"]
    if "toml" in group:
        try:
            text = as_str(group["toml"][()])
            return tomllib.loads(text), "toml"
        except (tomllib.TOMLDecodeError, TypeError, UnicodeError) as exc:
            warnings.warn("%s: /config/toml does not parse (%s); using the attributes"
                          % (path, exc), NeurepWarning, stacklevel=3)
    config = {}
    for name, value in group.attrs.items():
        node = config
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = attr_value(value)
    return config, "attributes"


def _read_curves(f):
    curves = []
    if "curves" not in f:
        return curves
    for name in sorted(f["curves"]):
        g = f["curves"][name]
        if not isinstance(g, h5py.Group):
            continue
        c = {"name": name}
        for key in ("d", "n", "seed", "learner", "input"):
            if key in g.attrs:
                c[key] = attr_value(g.attrs[key])
        for key in ("step", "train_loss", "train_error", "validation_error", "test_error", "weight_norm"):
            c[key] = np.asarray(g[key][()], dtype=float) if key in g else None
        if c["step"] is None:
            continue
        curves.append(c)
    return curves


# The columns of /complexity (src/io/include/neurep/output.hpp, ComplexityRow).
COMPLEXITY_COLUMNS = ("d", "seed", "learner", "input", "target", "n_lo", "n_hi", "error_lo",
                      "error_hi", "n_eps", "points", "status")


def _read_complexity(f):
    """/complexity as column -> array (strings decoded), or None when the file has none."""
    if "complexity" not in f or not isinstance(f["complexity"], h5py.Group):
        return None
    g = f["complexity"]
    out = {}
    for name in COMPLEXITY_COLUMNS:
        if name not in g:
            return None
        v = g[name][()]
        out[name] = as_str_array(v) if v.dtype.kind in "SOU" else v
    return out


def load(path, curves=False):
    """Read and validate one results file; raise NeurepError on bad input.

    Warns (NeurepWarning) when the run has not finished: what is there is
    still returned, because watching a running sweep is a normal use.
    """
    path = os.fspath(path)
    with _open(path) as f:
        attrs = {k: attr_value(v) for k, v in f.attrs.items()}
        software = attrs.get("software")
        if software is None:
            raise NeurepError("%s: not a neurep results file (HDF5, but no root "
                              "attribute 'software')" % path)
        if software != "neurep":
            raise NeurepError("%s: not a neurep results file (software = %r)"
                              % (path, software))
        if "results" not in f or not isinstance(f["results"], h5py.Group):
            raise NeurepError("%s: neurep file without a /results table (the run "
                              "wrote nothing yet, or the file is damaged)" % path)
        config, source = _read_config(f, path)
        res = f["results"]
        missing = [c for c in REQUIRED_COLUMNS if c not in res]
        if missing:
            raise NeurepError("%s: /results lacks column(s) %s"
                              % (path, ", ".join(missing)))
        raw = {}
        for name in res:
            ds = res[name]
            if isinstance(ds, h5py.Dataset) and ds.ndim == 1:
                raw[name] = ds[()]
        lengths = {len(v) for v in raw.values()}
        nrows = min(lengths) if lengths else 0
        if len(lengths) > 1:
            warnings.warn("%s: /results columns have unequal lengths %s (a write "
                          "was cut short); using the first %d rows"
                          % (path, sorted(lengths), nrows), NeurepWarning, stacklevel=2)
        columns = {}
        for name, v in raw.items():
            v = v[:nrows]
            if name in STRING_COLUMNS or v.dtype.kind in "SOU":
                columns[name] = as_str_array(v)
            elif v.dtype.kind in "iu":
                columns[name] = v.astype(np.int64)
            else:
                columns[name] = v.astype(float)
        for name, default in DEFAULT_COLUMNS.items():
            if name not in columns:
                if isinstance(default, str):
                    columns[name] = np.array([default] * nrows, dtype=object)
                else:
                    columns[name] = np.full(nrows, default,
                                            dtype=np.int64 if isinstance(default, int) else float)
        crv = _read_curves(f) if curves else []
        cx = _read_complexity(f)

    rf = ResultFile(path, attrs, config, source, columns, crv, cx)
    status = attrs.get("status")
    if status is None:
        warnings.warn("%s: no 'status' attribute; cannot tell whether the run "
                      "finished (%d rows present)" % (path, nrows),
                      NeurepWarning, stacklevel=2)
    elif status != "complete":
        warnings.warn("%s: run status is '%s', not 'complete': reporting the %d "
                      "row(s) present" % (path, status, nrows), NeurepWarning, stacklevel=2)
    elif nrows == 0:
        warnings.warn("%s: /results is empty" % path, NeurepWarning, stacklevel=2)
    return rf


def _same(a, b):
    if isinstance(a, (list, tuple, np.ndarray)) or isinstance(b, (list, tuple, np.ndarray)):
        a, b = np.atleast_1d(a), np.atleast_1d(b)
        if a.shape != b.shape:
            return False
        if a.dtype.kind in "fiub" and b.dtype.kind in "fiub":
            return bool(np.allclose(a.astype(float), b.astype(float), rtol=1e-12, atol=0))
        return bool(np.all(a == b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)
    return a == b


def check_targets(files, allow_mixed=False):
    """Refuse (NeurepError) to pool files whose target f* differs.

    Pooling a degree-3 and a degree-4 run on one plot would compare sample
    complexities of different problems, so this names the first differing
    key and two files that disagree.  allow_mixed turns it into a warning.
    """
    if len(files) < 2:
        return
    ref = files[0]
    ref_t = ref.target()
    for other in files[1:]:
        t = other.target()
        for key in TARGET_KEYS:
            if not _same(ref_t[key], t[key]):
                msg = ("mixed targets: %s is %r in %s but %r in %s"
                       % (key, ref_t[key], ref.path, t[key], other.path))
                if allow_mixed:
                    warnings.warn(msg + " (combined anyway: --allow-mixed)",
                                  NeurepWarning, stacklevel=2)
                    break
                raise NeurepError(msg + "; use --allow-mixed to combine them anyway")


class Table:
    """Rows of several files stacked: `columns` plus a `file` index column.

    Columns present in only some files are filled (NaN or "") in the others,
    so extra columns (m, learning_rate, steps_run, ...) carry through.
    """

    def __init__(self, files):
        self.files = files
        names = []
        for f in files:
            for name in f.columns:
                if name not in names:
                    names.append(name)
        cols = {}
        for name in names:
            parts = []
            is_str = any(f.columns[name].dtype == object for f in files if name in f.columns)
            for f in files:
                if name in f.columns:
                    v = f.columns[name]
                    parts.append(v.astype(object) if is_str else v.astype(float)
                                 if v.dtype.kind == "f" else v)
                elif is_str:
                    parts.append(np.array([""] * f.nrows, dtype=object))
                else:
                    parts.append(np.full(f.nrows, math.nan))
            cols[name] = np.concatenate(parts) if parts else np.array([])
            if not is_str and cols[name].dtype.kind == "f" and name in ("d", "n", "seed", "width"):
                cols[name] = np.where(np.isfinite(cols[name]), cols[name], -1).astype(np.int64)
        cols["file"] = np.concatenate([np.full(f.nrows, i, dtype=np.int64)
                                       for i, f in enumerate(files)]) if files else np.array([], dtype=np.int64)
        self.columns = cols

    def __len__(self):
        return len(self.columns["file"])

    def degrees_for(self, mask=None):
        """The set of target degrees p (max of data.degrees) among the rows."""
        idx = self.columns["file"] if mask is None else self.columns["file"][mask]
        return sorted({max(self.files[i].degrees()) for i in set(idx.tolist())})

    def rows(self):
        names = list(self.columns)
        return [{k: _py(self.columns[k][i]) for k in names} for i in range(len(self))]


def load_many(paths, allow_mixed=False, curves=False):
    """Load several files, check they share a target, warn on duplicate rows."""
    if not paths:
        raise NeurepError("no input files given")
    files = [load(p, curves=curves) for p in paths]
    check_targets(files, allow_mixed)
    table = Table(files)
    _warn_duplicates(table)
    return table


def _warn_duplicates(table):
    c = table.columns
    if len(table) == 0:
        return
    ridge = np.where(np.isfinite(c["ridge"]), c["ridge"], -1.0)
    # Candidate settings of one point (learner.learning_rate/width lists) are distinct rows.
    cand = c["candidate"] if "candidate" in c else np.zeros(len(table))
    cand = np.where(np.isfinite(np.asarray(cand, dtype=float)), cand, 0.0)
    # A refit (learner.refit) repeats its chosen candidate's settings on all n: a row of its own.
    refit = c["refit"] if "refit" in c else np.zeros(len(table))
    refit = np.where(np.isfinite(np.asarray(refit, dtype=float)), refit, 0.0)
    # Files of different targets (combined with allow_mixed) or learner or
    # representation settings (the NTK with and without input bias share the
    # label kernel:ntk) measure different problems: their rows of one
    # (learner, input, d, n, seed) are not repeats.
    target = [json.dumps([f.target(), config_get(f.config, "learner"), config_get(f.config, "representation")],
                         sort_keys=True, default=str) for f in table.files]
    keys = list(zip(c["learner"], c["input"], c["d"].tolist(), c["n"].tolist(),
                    c["seed"].tolist(), ridge.tolist(), cand.tolist(), refit.tolist(),
                    [target[i] for i in c["file"].tolist()]))
    if len(set(keys)) != len(keys):
        ndup = len(keys) - len(set(keys))
        warnings.warn("%d row(s) repeat a (learner, input, d, n, seed, ridge) of "
                      "another row (the same point run twice?); all are used"
                      % ndup, NeurepWarning, stacklevel=3)
