"""Benchmark: log-likelihood (+ gradient) of a dynamic factor model, bdfm vs others.

Run by hand from the repository root::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_loglike.py          # full run, ~12 min
    PYTHONPATH=. .venv/bin/python benchmarks/bench_loglike.py --quick  # smoke test, small size

Everything is measured in one run on the same simulated data (fixed seed) and at
the same parameter values, for (N, T, k) in (20, 500, 2), (50, 500, 3),
(200, 1000, 5): factor VAR(1), AR(1) idiosyncratic errors (plus an iid-errors row).

Implementations
---------------
* **bdfm**: compiled pytensor function of ``dfm_loglike_pointwise(...).sum()`` and
  its gradient w.r.t. (loadings, factor_ar, idio_sd, idio_ar), default C mode and
  ``mode="NUMBA"``. Compile time = ``pytensor.function(...)`` + first call:
  per row in this process with the caches on disk as found (bdfm's numba kernel
  cache in ``bdfm/statespace/__pycache__``, the pytensor compiledir); once more at
  (50, 500, 3) for a randomly perturbed data set (NUMBA-mode graphs embed the
  data as constants and are cached by them, so this is the compile a new data set
  costs); and "cold" at (50, 500, 3) in subprocesses with a fresh
  ``NUMBA_CACHE_DIR`` plus either a fresh ``PYTENSOR_FLAGS=base_compiledir=<tmp>``
  (C and NUMBA: fully cold) or the user's compiledir (C: only bdfm's kernels cold).
* **pymc-extras** ``BayesianDynamicFactor`` (k factors, factor_order=1,
  error_order=1, error_cov_type="diagonal", measurement_error=False, priors as in
  its docstring). Installed into the project venv as ``pymc-extras==0.10.0``
  (``pip install --dry-run`` showed it keeps pymc 5.28.5 / pytensor 2.38.3; it
  adds preliz, scikit-learn, pydantic, better-optimize, arviz-stats,
  pytensor-distributions). Timed: ``model.compile_fn([model.logp(), model.dlogp()])``
  (one function for value and gradient, as a sampler uses it), default C mode,
  evaluated at the benchmark parameter values (``error_sigma`` is a *variance* in
  pymc-extras, so it is set to sd**2; ``x0 = 0``; ``P0`` = the stationary state
  covariance, with zero entries replaced by 1e-12 because the docstring prior on
  P0 is an elementwise HalfNormal). Runs in a subprocess per size with a time
  limit; sizes whose compile exceeds it are reported as skipped.
* **statsmodels** ``sm.tsa.DynamicFactor(Y, k_factors=k, factor_order=1,
  error_order=1).loglike(params)``, and with the collapsed filter
  (``mod.ssm.filter_collapsed = True``; ``loglike(params, filter_collapsed=True)`` is
  not accepted by statsmodels 0.15). The collapsed filter raises for
  error_order=1 (state dimension k + N >= N), so it is reported for the iid rows only.
* **numba floor**: a standalone njit information-form Kalman filter on
  precomputed C_t = L' W_t L, b_t = L' W_t y_t (AR(1) errors: quasi-differenced,
  2k state), logp only; its time includes the numpy precomputation. Its value is
  asserted equal to bdfm's (relative error < 1e-8).

Timings are taken in the environment the script is started in: run it from a
plain shell (no thread variables) for the user's default environment, the
headline; ``--single-thread`` re-runs the script with OMP/OPENBLAS/MKL/NUMBA
thread counts set to 1 (the numbers beside it; the results file gets a
``_1thread`` suffix). Reported numbers are medians over many calls. Results go to
``benchmarks/results/loglike_<date>.{md,json}``.
"""

from __future__ import annotations

import os
import sys

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
if "--single-thread" in sys.argv and any(os.environ.get(v) != "1" for v in THREAD_VARS):
    # thread counts must be set before numpy loads: start again with them set
    os.execve(
        sys.executable,
        [sys.executable, *sys.argv],
        {**os.environ, **dict.fromkeys(THREAD_VARS, "1")},
    )

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402
from scipy.linalg import solve_discrete_lyapunov  # noqa: E402

warnings.filterwarnings("ignore")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SIZES = [(20, 500, 2), (50, 500, 3), (200, 1000, 5)]
COLD_SIZE = (50, 500, 3)
SEED = 12345
LOG_2PI = float(np.log(2.0 * np.pi))


# --------------------------------------------------------------------------- data
def simulate(N, T, k, seed=SEED):
    """Data and true parameters: factor VAR(1), AR(1) errors, ragged start and end."""
    rng = np.random.default_rng(seed + 1000 * N + k)
    off = rng.uniform(0.0, 0.15 / k, (k, k)) * (1.0 - np.eye(k))  # nonnegative -> Sigma > 0
    A = 0.7 * np.eye(k) + off
    assert np.max(np.abs(np.linalg.eigvals(A))) < 0.95
    lam = rng.normal(0.0, 1.0, (N, k))
    rho = rng.uniform(0.2, 0.7, N)
    sd = rng.uniform(0.5, 1.5, N)
    Sigma = solve_discrete_lyapunov(A, np.eye(k))
    f = np.empty((T, k))
    f[0] = np.linalg.cholesky(Sigma) @ rng.standard_normal(k)
    u = np.empty((T, N))
    u[0] = sd / np.sqrt(1 - rho**2) * rng.standard_normal(N)
    for t in range(1, T):
        f[t] = A @ f[t - 1] + rng.standard_normal(k)
        u[t] = rho * u[t - 1] + sd * rng.standard_normal(N)
    Y = f @ lam.T + u
    n_rag = max(1, N // 10)
    series = rng.permutation(N)
    for i in series[:n_rag]:  # late starts
        Y[: rng.integers(1, T // 10), i] = np.nan
    for i in series[n_rag : 2 * n_rag]:  # early ends (ragged edge)
        Y[T - rng.integers(1, 6) :, i] = np.nan
    params = {"loadings": lam, "factor_ar": A[None], "idio_sd": sd, "idio_ar": rho}
    return Y, params


def stationary_full_cov(params, ar1=True):
    """Stationary covariance of the state (f_t, u_t) used by statsmodels/pymc-extras."""
    A = params["factor_ar"][0]
    k = A.shape[0]
    Sigma = solve_discrete_lyapunov(A, np.eye(k))
    if not ar1:
        return Sigma
    sd, rho = params["idio_sd"], params["idio_ar"]
    N = sd.shape[0]
    P = np.zeros((k + N, k + N))
    P[:k, :k] = Sigma
    P[k:, k:] = np.diag(sd**2 / (1 - rho**2))
    return P


# --------------------------------------------------------------------------- timing
def time_calls(fn, budget=2.0, min_reps=5, max_reps=5000, warmup=True):
    """Median seconds per call of ``fn()`` (after one warm-up call), number of calls."""
    if warmup:
        fn()
    ts = []
    start = time.perf_counter()
    while len(ts) < min_reps or (time.perf_counter() - start < budget and len(ts) < max_reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)), len(ts)


# --------------------------------------------------------------------------- bdfm
def bdfm_function(Y, params, ar1=True, mode=None):
    """Compile bdfm's logp+grad; returns (callable, compile seconds, value at params)."""
    import pytensor
    import pytensor.tensor as pt

    from bdfm.statespace.assemble import dfm_loglike_pointwise
    from bdfm.statespace.stats import ar1_masks
    from bdfm.statespace.warmup import compile_with_warmup

    k = params["loadings"].shape[1]
    p = params["factor_ar"].shape[0]
    mask = ~np.isnan(Y)
    y0 = np.where(mask, Y, 0.0)
    lam = pt.dmatrix("loadings")
    A = pt.tensor("factor_ar", shape=(p, k, k), dtype="float64")
    sd = pt.dvector("idio_sd")
    rho = pt.dvector("idio_ar")
    t0 = time.perf_counter()
    if ar1:
        m_diff, m_start, _ = ar1_masks(mask)
        y_lag = np.zeros_like(y0)
        y_lag[1:] = y0[:-1]
        ll = dfm_loglike_pointwise(
            y0, mask.astype(float), lam, A, sd, rho, y_lag=y_lag, m_diff=m_diff, m_start=m_start
        )
        inputs = [lam, A, sd, rho]
        vals = [params["loadings"], params["factor_ar"], params["idio_sd"], params["idio_ar"]]
    else:
        ll = dfm_loglike_pointwise(y0, mask.astype(float), lam, A, sd)
        inputs = [lam, A, sd]
        vals = [params["loadings"], params["factor_ar"], params["idio_sd"]]
    total = ll.sum()
    outputs = [total, *pytensor.grad(total, inputs)]
    f = compile_with_warmup(inputs, outputs, "ar1" if ar1 else "iid", mode=mode)
    out = f(*vals)
    compile_s = time.perf_counter() - t0
    assert all(np.all(np.isfinite(o)) for o in out), "bdfm returned non-finite values"
    return (lambda: f(*vals)), compile_s, float(out[0])


# --------------------------------------------------------------------------- floor
@njit(cache=False, nogil=True)
def _chol(a, out):
    n = a.shape[0]
    for j in range(n):
        s = a[j, j]
        for q in range(j):
            s -= out[j, q] * out[j, q]
        if s <= 0.0:
            return False
        d = np.sqrt(s)
        out[j, j] = d
        for i in range(j + 1, n):
            s = a[i, j]
            for q in range(j):
                s -= out[i, q] * out[j, q]
            out[i, j] = s / d
        for i in range(j):
            out[i, j] = 0.0
    return True


@njit(cache=False, nogil=True)
def _chol_inverse(lo, out):
    """(lo lo')^{-1} into out (symmetric)."""
    n = lo.shape[0]
    inv_lo = np.zeros((n, n))  # lower-triangular inverse of lo
    for j in range(n):
        inv_lo[j, j] = 1.0 / lo[j, j]
        for i in range(j + 1, n):
            s = 0.0
            for q in range(j, i):
                s -= lo[i, q] * inv_lo[q, j]
            inv_lo[i, j] = s / lo[i, i]
    for i in range(n):
        for j in range(i + 1):
            s = 0.0
            for q in range(i, n):
                s += inv_lo[q, i] * inv_lo[q, j]
            out[i, j] = s
            out[j, i] = s


@njit(cache=False, nogil=True)
def floor_filter(C, b, TT, Q, P0):
    """Sum over t of the state part of log p(y_t | past), information-form update.

    C (T, m, m), b (T, m) act on the whole state; TT (m, m) transition, Q (m, m)
    innovation covariance, P0 (m, m) covariance of the first state (mean 0).
    """
    T, m = b.shape
    x = np.zeros(m)
    P = P0.copy()
    Lp = np.zeros((m, m))
    Ls = np.zeros((m, m))
    S = np.empty((m, m))
    Pu = np.empty((m, m))
    xu = np.empty(m)
    r = np.empty(m)
    tmp = np.empty((m, m))
    total = 0.0
    for t in range(T):
        obs = False
        for i in range(m):
            if C[t, i, i] != 0.0:
                obs = True
                break
        if obs:
            if not _chol(P, Lp):
                return -np.inf
            logdet = 0.0
            for i in range(m):
                logdet += 2.0 * np.log(Lp[i, i])
            _chol_inverse(Lp, S)
            for i in range(m):
                for j in range(m):
                    S[i, j] += C[t, i, j]
            if not _chol(S, Ls):
                return -np.inf
            for i in range(m):
                logdet += 2.0 * np.log(Ls[i, i])
            _chol_inverse(Ls, Pu)
            xcx = 0.0
            xb = 0.0
            for i in range(m):
                s = 0.0
                for j in range(m):
                    s += C[t, i, j] * x[j]
                r[i] = b[t, i] - s
                xcx += x[i] * s
                xb += x[i] * b[t, i]
            quad = 0.0
            for i in range(m):
                s = 0.0
                for j in range(m):
                    s += Pu[i, j] * r[j]
                xu[i] = x[i] + s
                quad += r[i] * s
            total += -0.5 * (logdet + xcx - 2.0 * xb - quad)
        else:
            xu[:] = x
            Pu[:, :] = P
        # predict: x = TT xu, P = TT Pu TT' + Q
        for i in range(m):
            s = 0.0
            for j in range(m):
                s += TT[i, j] * xu[j]
            x[i] = s
        for i in range(m):
            for j in range(m):
                s = 0.0
                for q in range(m):
                    s += TT[i, q] * Pu[q, j]
                tmp[i, j] = s
        for i in range(m):
            for j in range(i + 1):
                s = Q[i, j]
                for q in range(m):
                    s += tmp[i, q] * TT[j, q]
                P[i, j] = s
                P[j, i] = s
    return total


def floor_loglike(y0, mask, y_lag, m_diff, m_start, lam, A, sd, rho=None):
    """Numpy precomputation + numba filter. A: (k, k). Returns the total log-likelihood."""
    T, N = y0.shape
    k = lam.shape[1]
    var = sd**2
    LL = (lam[:, :, None] * lam[:, None, :]).reshape(N, k * k)
    Sigma = solve_discrete_lyapunov(A, np.eye(k))
    if rho is None:
        w = mask / var
        wy = w * y0
        C = np.ascontiguousarray((w @ LL).reshape(T, k, k))
        b = wy @ lam
        const = -0.5 * (mask.sum() * LOG_2PI + (mask * np.log(var)).sum() + (wy * y0).sum())
        return const + floor_filter(C, b, A, np.eye(k), Sigma)
    var_start = var / (1.0 - rho**2)
    w1 = m_diff / var
    w0 = m_start / var_start
    ystar = y0 - rho * y_lag
    C = np.empty((T, 2 * k, 2 * k))
    C[:, :k, :k] = ((w1 + w0) @ LL).reshape(T, k, k)
    C12 = -((w1 * rho) @ LL).reshape(T, k, k)
    C[:, :k, k:] = C12
    C[:, k:, :k] = C12
    C[:, k:, k:] = ((w1 * rho**2) @ LL).reshape(T, k, k)
    w1y = w1 * ystar
    w0y = w0 * y0
    b = np.empty((T, 2 * k))
    b[:, :k] = (w1y + w0y) @ lam
    b[:, k:] = -(w1y * rho) @ lam
    const = -0.5 * (
        (m_diff + m_start).sum() * LOG_2PI
        + (m_diff * np.log(var) + m_start * np.log(var_start)).sum()
        + (w1y * ystar + w0y * y0).sum()
    )
    TT = np.zeros((2 * k, 2 * k))
    TT[:k, :k] = A
    TT[k:, :k] = np.eye(k)
    Q = np.zeros((2 * k, 2 * k))
    Q[:k, :k] = np.eye(k)
    P0 = np.empty((2 * k, 2 * k))
    P0[:k, :k] = Sigma
    P0[k:, k:] = Sigma
    P0[:k, k:] = A @ Sigma  # Cov(f_t, f_{t-1})
    P0[k:, :k] = (A @ Sigma).T
    return const + floor_filter(C, b, TT, Q, P0)


def floor_callable(Y, params, ar1=True):
    mask = ~np.isnan(Y)
    y0 = np.where(mask, Y, 0.0)
    maskf = mask.astype(float)
    prev = np.zeros_like(mask)
    prev[1:] = mask[:-1]
    m_diff = (mask & prev).astype(float)
    m_start = (mask & ~prev).astype(float)
    y_lag = np.zeros_like(y0)
    y_lag[1:] = y0[:-1]
    lam, A, sd, rho = (params[n] for n in ("loadings", "factor_ar", "idio_sd", "idio_ar"))
    A = np.ascontiguousarray(A[0])
    r = rho if ar1 else None
    return lambda: floor_loglike(y0, maskf, y_lag, m_diff, m_start, lam, A, sd, r)


# --------------------------------------------------------------------------- statsmodels
def statsmodels_callables(Y, params, ar1=True):
    import statsmodels.api as sm

    k = params["loadings"].shape[1]
    mod = sm.tsa.DynamicFactor(Y, k_factors=k, factor_order=1, error_order=1 if ar1 else 0)
    vec = [params["loadings"].ravel(), params["idio_sd"] ** 2, params["factor_ar"][0].ravel()]
    if ar1:
        vec.append(params["idio_ar"])
    x = np.concatenate(vec)
    assert x.shape == (len(mod.param_names),)

    def plain():
        mod.ssm.filter_collapsed = False
        return mod.loglike(x)

    def collapsed():
        mod.ssm.filter_collapsed = True
        try:
            return mod.loglike(x)
        finally:
            mod.ssm.filter_collapsed = False

    try:
        collapsed()
        coll = collapsed
        coll_err = None
    except Exception as e:
        coll, coll_err = None, f"{type(e).__name__}: {e}"
    return plain, coll, coll_err


# --------------------------------------------------------------------------- pymc-extras
from _pmx import pmx_model  # noqa: E402


def pmx_worker(N, T, k):
    """Runs in a subprocess: build, compile and time pymc-extras; prints JSON lines."""
    import pytensor

    Y, params = simulate(N, T, k)
    t0 = time.perf_counter()
    model, ss = pmx_model(Y, k)
    build_s = time.perf_counter() - t0
    P0 = stationary_full_cov(params)
    P0 = np.where(P0 > 0, P0, 1e-12)
    point = {
        "x0": np.zeros(k + N),
        "P0_log__": np.log(P0),
        "factor_loadings": params["loadings"],
        "factor_ar": params["factor_ar"][0],
        "error_ar": params["idio_ar"][:, None],
        "error_sigma_log__": np.log(params["idio_sd"] ** 2),
    }
    assert set(point) == {v.name for v in model.value_vars}
    t0 = time.perf_counter()
    fn = model.compile_fn([model.logp(), model.dlogp()], point_fn=True)
    t1 = time.perf_counter()
    out = fn(point)
    t2 = time.perf_counter()
    print(
        json.dumps({"build_s": build_s, "compile_s": t2 - t0, "first_call_s": t2 - t1}), flush=True
    )
    # data log-likelihood = total logp - prior logp (incl. jacobian); prior graph is tiny
    prior = model.compile_fn(model.logp(vars=model.free_RVs), point_fn=True)
    obs_ll = float(out[0]) - float(prior(point))
    # pymc-extras 0.10 adds log(2 pi) once per time step instead of once per observed
    # value, and a missing value enters F with variance cov_jitter (1e-8): a constant
    # offset from the exact log-likelihood, removed here for the value check.
    n_obs = (~np.isnan(Y)).sum(axis=1)
    n_miss = N - n_obs
    offset = 0.5 * np.sum(np.where(n_obs > 0, n_obs - 1, 0)) * LOG_2PI - 0.5 * np.sum(
        np.where(n_obs > 0, n_miss, 0)
    ) * np.log(ss.kalman_filter.cov_jitter)
    per_call, reps = time_calls(lambda: fn(point), budget=3.0, min_reps=2, warmup=False)
    print(
        json.dumps(
            {
                "per_call_s": per_call,
                "reps": reps,
                "obs_loglike": obs_ll,
                "obs_loglike_corrected": obs_ll - offset,
                "grad_finite": bool(np.all(np.isfinite(out[1]))),
                "pytensor_mode": str(pytensor.config.mode),
            }
        ),
        flush=True,
    )


def run_pmx(N, T, k, compile_limit, total_limit):
    """Run pmx_worker in a subprocess; returns a dict (with 'skipped' on timeout)."""
    cmd = [sys.executable, __file__, "--pmx-worker", str(N), str(T), str(k)]
    env = _subprocess_env(ORIG_PYTENSOR_FLAGS)  # the user's pytensor compiledir
    errf = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, text=True, env=env)
    res: dict = {}
    t0 = time.perf_counter()
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    while True:
        elapsed = time.perf_counter() - t0
        limit = total_limit if "compile_s" in res else compile_limit
        if elapsed > limit:
            proc.kill()
            proc.wait()
            what = "run" if "compile_s" in res else "compile"
            res["skipped"] = f"skipped ({what} > {limit:.0f} s)"
            return res
        if sel.select(timeout=1.0):
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("{"):
                res.update(json.loads(line))
        elif proc.poll() is not None:
            rest = proc.stdout.read()
            for line in rest.splitlines():
                if line.startswith("{"):
                    res.update(json.loads(line))
            break
    proc.wait()
    if "per_call_s" not in res:
        errf.seek(0)
        res["skipped"] = "failed: " + errf.read()[-500:]
    return res


# --------------------------------------------------------------------------- cold compile
def cold_worker(mode):
    t0 = time.perf_counter()
    import pytensor  # noqa: F401

    import bdfm.statespace.assemble  # noqa: F401

    import_s = time.perf_counter() - t0
    Y, params = simulate(*COLD_SIZE)
    _, compile_s, _ = bdfm_function(Y, params, ar1=True, mode=None if mode == "C" else mode)
    print(json.dumps({"import_s": import_s, "compile_s": compile_s}), flush=True)


ORIG_PYTENSOR_FLAGS = os.environ.get("PYTENSOR_FLAGS", "")


def _subprocess_env(pytensor_flags, base_compiledir=None):
    env = dict(os.environ)
    flags = pytensor_flags
    if base_compiledir is not None:
        flags = (flags + "," if flags else "") + f"base_compiledir={base_compiledir}"
    if flags:
        env["PYTENSOR_FLAGS"] = flags
    else:
        env.pop("PYTENSOR_FLAGS", None)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_cold(mode, timeout=400, base_compiledir=None):
    """Compile in a fresh process with a fresh NUMBA_CACHE_DIR (bdfm kernels cold).

    ``base_compiledir=None``: also a fresh pytensor compiledir (fully cold);
    ``"user"``: the user's pytensor compiledir as found (only the kernels are cold).
    """
    with tempfile.TemporaryDirectory(prefix="bdfm_cold_") as tmp:
        base = None if base_compiledir == "user" else (base_compiledir or f"{tmp}/pytensor")
        env = _subprocess_env(ORIG_PYTENSOR_FLAGS, base)
        env["NUMBA_CACHE_DIR"] = os.path.join(tmp, "numba")
        t0 = time.perf_counter()
        try:
            p = subprocess.run(
                [sys.executable, __file__, "--cold-worker", mode],
                capture_output=True,
                text=True,
                env=env,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timeout > {timeout} s"}
        wall = time.perf_counter() - t0
        for line in p.stdout.splitlines():
            if line.startswith("{"):
                d = json.loads(line)
                d["process_wall_s"] = wall
                return d
        return {"error": p.stderr[-500:]}


# --------------------------------------------------------------------------- report
def machine_info():
    import numba
    import pymc
    import pytensor
    import scipy
    import statsmodels

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from importlib.metadata import version

        pmx = version("pymc-extras")
    except Exception:
        pmx = "not installed"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "pytensor": pytensor.__version__,
        "pymc": pymc.__version__,
        "pymc_extras": pmx,
        "statsmodels": statsmodels.__version__,
        "pytensor_blas_ldflags": pytensor.config.blas__ldflags or "(empty: no BLAS linked)",
        "loadavg_start": _loadavg(),
        "threads": {v: os.environ.get(v, "unset") for v in THREAD_VARS},
    }


def _loadavg():
    try:
        return Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        return None


def fmt(x, nd=2):
    if x is None:
        return "n/a"
    if isinstance(x, str):
        return x
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.{nd}f}" if x >= 0.1 else f"{x:.3f}"


def ratio(a, b):
    return None if (a is None or b is None) else a / b


def build_report(info, rows, cold, new_data, targets, wall):
    lines = [f"# bdfm log-likelihood benchmark ({datetime.date.today().isoformat()})", ""]
    lines.append(
        f"Machine: {info['nproc']} cores, {info['cpu']}. Thread variables: "
        + ", ".join(f"{k}={v}" for k, v in info["threads"].items())
        + " (unset = the user's default environment)."
    )
    lines.append(
        "Versions: "
        + ", ".join(
            f"{k} {info[k]}"
            for k in (
                "python",
                "numpy",
                "scipy",
                "numba",
                "pytensor",
                "pymc",
                "pymc_extras",
                "statsmodels",
            )
        )
        + f". pytensor blas__ldflags: {info['pytensor_blas_ldflags']}."
    )
    lines.append("")
    lines.append(
        "Median time per call in ms. bdfm = logp + gradient (C = default mode); "
        "pymc-extras = logp + gradient; statsmodels and the numba floor = logp only."
    )
    lines.append("")
    hdr = (
        "| errors | N | T | k | bdfm C | bdfm NUMBA | pymc-extras | statsmodels | sm collapsed "
        "| numba floor | pmx/bdfm | bdfm/floor | sm-coll/bdfm | sm/bdfm |"
    )
    lines += [hdr, "|" + "---|" * 14]
    for r in rows:
        b = r["bdfm_c_ms"]
        cells = [
            r["errors"],
            r["N"],
            r["T"],
            r["k"],
            fmt(b),
            fmt(r["bdfm_numba_ms"]),
            fmt(r.get("pmx_ms", r.get("pmx_note"))),
            fmt(r["sm_ms"]),
            fmt(r["sm_coll_ms"]),
            fmt(r["floor_ms"]),
            fmt(ratio(r.get("pmx_ms"), b)),
            fmt(ratio(b, r["floor_ms"])),
            fmt(ratio(r["sm_coll_ms"], b)),
            fmt(ratio(r["sm_ms"], b)),
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += [
        "",
        "Compile time (s) = pytensor.function + first call; warm = this process "
        "(caches on disk as found); pymc-extras = model.compile_fn + first call.",
        "",
    ]
    lines += ["| errors | N | T | k | bdfm C | bdfm NUMBA | pymc-extras |", "|" + "---|" * 7]
    for r in rows:
        lines.append(
            f"| {r['errors']} | {r['N']} | {r['T']} | {r['k']} | {fmt(r['bdfm_c_compile_s'])} | "
            f"{fmt(r['bdfm_numba_compile_s'])} | "
            f"{fmt(r.get('pmx_compile_s', r.get('pmx_note')))} |"
        )
    lines += [
        "",
        "NUMBA-mode graphs embed the data as constants and pytensor caches them on disk "
        "keyed by those (and by the bdfm sources): the NUMBA column above is a cache hit "
        "(~1 s) if this script ran before with unchanged bdfm sources, else ~20-30 s. "
        "Compile for a data set "
        f"never seen before, caches otherwise warm, {COLD_SIZE} AR(1): "
        + ", ".join(f"{m} {v:.1f} s" for m, v in new_data.items())
        + ".",
    ]
    lines += [
        "",
        f"Cold compile at {COLD_SIZE} AR(1) in a fresh subprocess with a fresh "
        "NUMBA_CACHE_DIR (bdfm kernels JIT-compiled); 'fully cold' also has a fresh "
        "pytensor base_compiledir (every C module / numba op compiled):",
        "",
    ]
    for mode, d in cold.items():
        if "error" in d:
            lines.append(f"- {mode}: {d['error']}")
        else:
            lines.append(
                f"- {mode}: compile + first call {d['compile_s']:.1f} s (imports "
                f"{d['import_s']:.1f} s, whole process {d['process_wall_s']:.1f} s)"
            )
    lines += ["", "Value checks (total log-likelihood at the benchmark parameters):", ""]
    for r in rows:
        lines.append(f"- {r['errors']} {r['N']}x{r['T']}x{r['k']}: " + "; ".join(r["checks"]))
    lines += ["", "Targets:", ""]
    for t in targets:
        mark = "n/a" if t["pass"] is None else "PASS" if t["pass"] else "FAIL"
        lines.append(f"- [{mark}] {t['text']}")
    lines += ["", "Notes:", ""]
    lines += [f"- {n}" for n in NOTES]
    lines.append(
        f"- Total benchmark wall time: {wall / 60:.1f} min; load average at start "
        f"{info.get('loadavg_start')}, at end {info.get('loadavg_end')} (other "
        "processes on the machine add noise to the medians)."
    )
    return "\n".join(lines) + "\n"


NOTES = [
    "statsmodels' collapsed filter refuses error_order=1 (state dim k+N >= N), so "
    "'sm collapsed' is reported for the iid rows only; the AR(1) target is checked "
    "against the iid collapsed time at the same size (statsmodels' cheapest option).",
    "pymc-extras is timed at the benchmark parameter values with x0 = 0 and P0 = the "
    "stationary covariance (zeros -> 1e-12). Its 'obs' log-likelihood differs from the "
    "exact one by a parameter-free constant (0.10.0 adds log(2 pi) once per time step "
    "instead of once per observed value, and each missing value adds -log(1e-8)/2 from "
    "cov_jitter); after removing it the values agree with bdfm.",
    "The numba floor's time includes its numpy precomputation of C_t, b_t.",
    "The first row's bdfm compile also JIT-compiles bdfm's numba kernels when the "
    "on-disk cache is stale (bdfm sources edited since it was written); later rows "
    "show the warm C compile (~0.1 s).",
    "pymc-extras at (200, 1000, 5): few repetitions (one call takes ~25 s).",
]


# --------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smallest size only, short timings")
    ap.add_argument(
        "--single-thread", action="store_true", help="thread variables set to 1 (not the headline)"
    )
    ap.add_argument("--no-pmx", action="store_true", help="skip pymc-extras")
    ap.add_argument("--no-cold", action="store_true", help="skip cold-compile subprocesses")
    ap.add_argument("--budget", type=float, default=2.0, help="seconds of timing per measurement")
    ap.add_argument("--pmx-compile-limit", type=float, default=240.0)
    ap.add_argument("--pmx-run-limit", type=float, default=150.0)
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--pmx-worker", nargs=3, type=int, help=argparse.SUPPRESS)
    ap.add_argument("--cold-worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.pmx_worker:
        return pmx_worker(*args.pmx_worker)
    if args.cold_worker:
        return cold_worker(args.cold_worker)

    wall0 = time.perf_counter()
    sizes = SIZES[:1] if args.quick else SIZES
    budget = 0.5 if args.quick else args.budget
    info = machine_info()
    print(f"{info['nproc']} cores, {info['cpu']}; thread variables {info['threads']}", flush=True)

    cold = {}
    if not args.no_cold:
        for mode, base, label in (
            ("C", None, "C, fully cold"),
            ("NUMBA", None, "NUMBA, fully cold"),
            ("C", "user", "C, only bdfm numba kernels cold"),
        ):
            print(f"cold compile {label} at {COLD_SIZE} ...", flush=True)
            cold[label] = run_cold(mode, base_compiledir=base)
            print("   ", cold[label], flush=True)

    rows = []
    for N, T, k in sizes:
        Y, params = simulate(N, T, k)
        for ar1 in (True, False):
            errors = "AR(1)" if ar1 else "iid"
            print(f"== {errors} N={N} T={T} k={k}", flush=True)
            r = {"errors": errors, "N": N, "T": T, "k": k, "checks": []}
            fc, r["bdfm_c_compile_s"], v_bdfm = bdfm_function(Y, params, ar1, mode=None)
            r["bdfm_c_ms"] = 1e3 * time_calls(fc, budget)[0]
            fn, r["bdfm_numba_compile_s"], v_numba = bdfm_function(Y, params, ar1, mode="NUMBA")
            r["bdfm_numba_ms"] = 1e3 * time_calls(fn, budget)[0]
            assert abs(v_numba - v_bdfm) <= 1e-10 * abs(v_bdfm), (v_numba, v_bdfm)

            ff = floor_callable(Y, params, ar1)
            v_floor = ff()
            rel = abs(v_floor - v_bdfm) / abs(v_bdfm)
            assert rel < 1e-8, f"numba floor {v_floor} != bdfm {v_bdfm} (rel {rel:.2e})"
            r["checks"].append(f"bdfm {v_bdfm:.6f}; floor rel diff {rel:.1e}")
            r["floor_ms"] = 1e3 * time_calls(ff, budget)[0]

            sm_plain, sm_coll, coll_err = statsmodels_callables(Y, params, ar1)
            v_sm = float(sm_plain())
            r["checks"].append(f"statsmodels rel diff {abs(v_sm - v_bdfm) / abs(v_bdfm):.1e}")
            r["sm_ms"] = 1e3 * time_calls(sm_plain, budget, min_reps=3)[0]
            if sm_coll is not None:
                v_c = float(sm_coll())
                r["checks"].append(f"sm collapsed rel diff {abs(v_c - v_bdfm) / abs(v_bdfm):.1e}")
                r["sm_coll_ms"] = 1e3 * time_calls(sm_coll, budget, min_reps=3)[0]
            else:
                r["sm_coll_ms"] = None
                r["sm_coll_error"] = coll_err

            if ar1 and not args.no_pmx:
                print("   pymc-extras ...", flush=True)
                d = run_pmx(N, T, k, args.pmx_compile_limit, args.pmx_run_limit)
                r["pmx_raw"] = d
                if "compile_s" in d:
                    r["pmx_compile_s"] = d["compile_s"]
                if "per_call_s" in d:
                    r["pmx_ms"] = 1e3 * d["per_call_s"]
                    rel_raw = abs(d["obs_loglike"] - v_bdfm) / abs(v_bdfm)
                    rel_c = abs(d["obs_loglike_corrected"] - v_bdfm) / abs(v_bdfm)
                    r["checks"].append(
                        f"pymc-extras obs rel diff {rel_raw:.1e} as returned, {rel_c:.1e} after "
                        "removing its constant offset"
                    )
                if "skipped" in d:
                    r["pmx_note"] = d["skipped"]
                    if "first_call_s" in d:  # a single (first) call is all there is
                        r["pmx_ms"] = 1e3 * d["first_call_s"]
                        r["pmx_note"] += "; time = first call only"
            elif ar1:
                r["pmx_note"] = "not run"
            rows.append(r)
            print(
                "   "
                + ", ".join(
                    f"{k_}={fmt(v) if isinstance(v, float) else v}"
                    for k_, v in r.items()
                    if k_ not in ("checks", "pmx_raw")
                ),
                flush=True,
            )
            print("   checks: " + "; ".join(r["checks"]), flush=True)

    # Compile for a data set never seen before (random perturbation, so no cache entry
    # can exist): NUMBA-mode graphs embed the data as constants and are cached by them.
    Y, params = simulate(*COLD_SIZE)
    Y = Y + 1e-6 * np.random.default_rng(time.time_ns()).standard_normal(Y.shape)
    new_data = {}
    for mode in ("C", "NUMBA"):
        _, new_data[mode], _ = bdfm_function(Y, params, True, mode=None if mode == "C" else mode)
    print("new-data compile (s):", new_data, flush=True)
    info["loadavg_end"] = _loadavg()
    targets = evaluate_targets(rows, cold, new_data)
    wall = time.perf_counter() - wall0
    report = build_report(info, rows, cold, new_data, targets, wall)
    print()
    print(report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"loglike_{datetime.date.today().isoformat()}" + ("_quick" if args.quick else "")
    stem += "_1thread" if args.single_thread else ""
    (out / f"{stem}.md").write_text(report)
    (out / f"{stem}.json").write_text(
        json.dumps(
            {
                "machine": info,
                "rows": rows,
                "cold_compile": cold,
                "new_data_compile": new_data,
                "targets": targets,
                "seed": SEED,
                "wall_s": wall,
            },
            indent=2,
            default=str,
        )
    )
    print(f"wrote {out / stem}.md and .json")


def evaluate_targets(rows, cold, new_data):
    def row(errors, N, T, k):
        for r in rows:
            if (r["errors"], r["N"], r["T"], r["k"]) == (errors, N, T, k):
                return r
        return None

    out = []
    r = row("AR(1)", 50, 500, 3)
    if r is not None:
        for col, name in (("bdfm_c_ms", "C"), ("bdfm_numba_ms", "NUMBA")):
            x = ratio(r.get("pmx_ms"), r[col])
            out.append(
                {
                    "text": f"bdfm ({name}) logp+grad >= 100x faster than pymc-extras at "
                    f"(50,500,3) AR(1): {fmt(x)}x",
                    "pass": None if x is None else x >= 100,
                }
            )
    r = row("AR(1)", 200, 1000, 5)
    ri = row("iid", 200, 1000, 5)
    if r is not None:
        for col, name in (("bdfm_c_ms", "C"), ("bdfm_numba_ms", "NUMBA")):
            x = ratio(r[col], r["floor_ms"])
            out.append(
                {
                    "text": f"bdfm ({name}) logp+grad within 5x of the numba floor at "
                    f"(200,1000,5) AR(1): {fmt(x)}x",
                    "pass": x <= 5,
                }
            )
        sm_c = ri["sm_coll_ms"] if ri else None
        for rr, label in ((r, "AR(1)"), (ri, "iid")):
            if rr is None:
                continue
            x = ratio(sm_c, rr["bdfm_c_ms"])
            out.append(
                {
                    "text": f"bdfm (C) {label} logp+grad faster than statsmodels' collapsed "
                    f"loglike (iid; AR(1) collapsed unsupported) at (200,1000,5): "
                    f"sm-coll/bdfm = {fmt(x)}x",
                    "pass": None if x is None else x > 1,
                }
            )
    for label, d in cold.items():
        if "compile_s" in d:
            out.append(
                {
                    "text": f"first-call compile under 20 s, {label} ({COLD_SIZE}): "
                    f"{d['compile_s']:.1f} s",
                    "pass": d["compile_s"] < 20,
                }
            )
    for mode, v in new_data.items():
        out.append(
            {
                "text": f"first-call compile under 20 s, warm caches, new data set ({mode}, "
                f"{COLD_SIZE}): {v:.1f} s",
                "pass": v < 20,
            }
        )
    return out


if __name__ == "__main__":
    main()
