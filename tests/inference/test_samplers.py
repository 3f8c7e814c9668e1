import importlib.util
import signal

import arviz as az
import numpy as np
import pytest
import xarray as xr

import bdfm
from bdfm.inference.samplers import SAMPLERS, default_sampler
from bdfm.spec import DFMSpec


def test_default_is_the_fastest_installed():
    expected = "nutpie" if importlib.util.find_spec("nutpie") else "pymc"
    assert default_sampler() == expected
    assert set(SAMPLERS) == {"nutpie", "pymc", "numpyro", "blackjax"}


def test_sampler_choice_errors():
    spec = DFMSpec(n_factors=1)
    data, _ = bdfm.simulate(spec, n_time=50, n_series=3, random_seed=1)
    model = bdfm.DynamicFactorModel(data, n_factors=1)
    with pytest.raises(ValueError, match="unknown sampler"):
        model.fit(sampler="hmc")
    with pytest.raises(ValueError, match="init must be"):
        model.fit(init="prior")


def test_missing_optional_sampler_names_the_extra(monkeypatch):
    import bdfm.inference.samplers as sampling

    monkeypatch.setattr(sampling, "_installed", lambda module: module != "numpyro")
    with pytest.raises(ImportError, match=r"pip install 'bdfm\[jax\]'"):
        sampling.require_sampler("numpyro")


# --------------------------------------------------------------------------- Ctrl-C
# nutpie and PyMC catch KeyboardInterrupt and return the draws made so far; bdfm must
# stop instead (a partial trace gave "zero-size array ..." or "'r_hat'" errors, or a fit
# interrupted as sampling ended was saved as if complete).
DRAWS, CHAINS = 10, 2


def _trace(draws: int = DRAWS, chains: int = CHAINS, ragged: bool = False) -> az.InferenceData:
    """A posterior of ``chains`` x ``draws``; ``ragged``: the last chain stopped early (NaN)."""
    x = np.random.default_rng(0).normal(size=(chains, draws))
    if ragged:
        x[-1, draws // 2 :] = np.nan  # how nutpie pads a chain interrupted before the others
    posterior = xr.Dataset(
        {"x": (("chain", "draw"), x)}, coords={"chain": range(chains), "draw": range(draws)}
    )
    return az.InferenceData(posterior=posterior)


class _FakeNutpie:
    """nutpie's ``sample``: ``wait`` is the sampling; on KeyboardInterrupt the blocking call
    aborts and returns ``partial`` (what nutpie 0.16 does), the background sampler re-raises."""

    def __init__(self, wait, partial: az.InferenceData | None = None) -> None:
        self.wait, self.partial, self.cancelled = wait, partial, False

    def sample(self, compiled, *, blocking: bool = True, **kwargs):
        fake = self

        class Background:
            def wait(self, timeout=None):
                return fake.wait()

            def abort(self):
                return fake.partial

            def cancel(self):
                fake.cancelled = True

        background = Background()
        if not blocking:
            return background
        try:
            return background.wait()
        except KeyboardInterrupt:
            return background.abort()


@pytest.fixture
def fake_nutpie(monkeypatch):
    """Install a fake nutpie (no compiling, no sampling): ``fake_nutpie(wait, partial)``."""
    import bdfm.inference.samplers as sampling

    nutpie = pytest.importorskip("nutpie")
    monkeypatch.setattr(nutpie, "compile_pymc_model", lambda *args, **kwargs: object())
    # the fake compiled model must not be cached for (and reused by) the next test
    monkeypatch.setattr(sampling, "COMPILED", sampling.CompiledCache(size=0))

    def install(wait, partial=None) -> _FakeNutpie:
        fake = _FakeNutpie(wait, partial)
        monkeypatch.setattr(nutpie, "sample", fake.sample)
        return fake

    return install


def _run(sampler: str = "nutpie"):
    import pymc as pm

    from bdfm.inference.samplers import run_sampler

    return run_sampler(
        pm.Model(),
        sampler,
        draws=DRAWS,
        tune=5,
        chains=CHAINS,
        random_seed=1,
        progressbar=False,
        initvals={},
    )


def _ctrl_c():
    raise KeyboardInterrupt


def _ctrl_c_signal(result):
    """The user's Ctrl-C (SIGINT) arrives while the sampler runs; it returns ``result``."""

    def wait():
        signal.raise_signal(signal.SIGINT)
        return result

    return wait


@pytest.mark.parametrize(
    "partial",
    [_trace(draws=3), _trace(draws=0), _trace(ragged=True), _trace()],
    ids=["during-draws", "during-tuning", "one-chain-short", "as-sampling-ended"],
)
def test_nutpie_interrupt_raises_keyboard_interrupt(fake_nutpie, partial):
    fake = fake_nutpie(_ctrl_c, partial)
    with pytest.raises(KeyboardInterrupt):
        _run()
    assert fake.cancelled  # the sampler threads are stopped, nothing kept


@pytest.mark.parametrize(
    "trace",
    [_trace(draws=3), _trace(draws=0), _trace(chains=1), _trace(ragged=True)],
    ids=["short", "empty", "chain-missing", "one-chain-short"],
)
def test_partial_trace_returned_without_error_is_an_interrupt(fake_nutpie, trace):
    fake_nutpie(lambda: trace)
    with pytest.raises(KeyboardInterrupt):
        _run()


def test_interrupt_swallowed_by_the_sampler_still_stops(fake_nutpie, monkeypatch):
    """A Ctrl-C the sampler catches (PyMC's sequential and parallel loops do) while it
    returns a complete trace: the run stops all the same."""

    def swallowing(wait):
        def run():
            try:
                return wait()
            except KeyboardInterrupt:
                return _trace()

        return run

    fake_nutpie(swallowing(_ctrl_c_signal(_trace())))
    with pytest.raises(KeyboardInterrupt):
        _run()
    import bdfm.inference.samplers as sampling

    monkeypatch.setattr(
        sampling.pm, "sample", lambda **kwargs: swallowing(_ctrl_c_signal(_trace()))()
    )
    with pytest.raises(KeyboardInterrupt):
        _run("pymc")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_complete_trace_is_returned(fake_nutpie):
    fake_nutpie(_trace)
    idata, timings = _run()
    assert idata.posterior.sizes["draw"] == DRAWS and "sample_s" in timings
