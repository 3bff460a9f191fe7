"""scorelab: score-based generative models, the empirical score and memorisation metrics.

Arrays go in as anything numpy can read (converted to float32) and come out as numpy arrays.
Bad arguments raise ValueError, missing or corrupt files OSError, failures while running
RuntimeError; Ctrl-C stops a long call at its next score evaluation (KeyboardInterrupt).
"""

from os import PathLike
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

ArrayLike = npt.ArrayLike
Times = Union[float, npt.ArrayLike]
ScoreCallable = Callable[[np.ndarray, np.ndarray], npt.ArrayLike]

class SDE:
    """A forward SDE with X_t | X_0 = x ~ N(α(t) x + c(t), σ²(t) I).

    name: ve, vp, subvp, cvp, ou, cou or heat; parameters not given take scorelab's defaults
    (vp: beta_min 0.1, beta_max 20, T = 1). ve needs sigma_max.
    """

    def __init__(
        self,
        name: str = "vp",
        *,
        sigma_min: Optional[float] = None,
        sigma_max: Optional[float] = None,
        beta_min: Optional[float] = None,
        beta_max: Optional[float] = None,
        theta: Optional[float] = None,
        sigma: Optional[float] = None,
        mu: Optional[float] = None,
        c: Optional[float] = None,
        t_end: Optional[float] = None,
    ) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def t_end(self) -> float: ...
    def marginal(self, t: Times) -> Tuple[Any, Any, Any]:
        """(α(t), c(t), σ²(t)): numbers for a number t, arrays for an array."""
    def coefficients(self, t: float) -> Tuple[float, float, float]:
        """(a, b, g): drift f(x, t) = a x + b and diffusion g(t)."""
    def prior(self) -> Tuple[float, float]:
        """(mean, variance) of the prior N(mean·1, variance·I)."""
    def prior_sample(self, n: int, dim: int, *, seed: int = 0) -> np.ndarray:
        """n prior draws of dimension dim, float32 (n, dim), seeded as `scorelab sample`."""

class GaussianMixture:
    """Σ_k w_k N(μ_k, diag v_k), with its exact score under any SDE."""

    def __init__(
        self,
        weights: Sequence[float],
        means: Sequence[Sequence[float]],
        variances: Sequence[Sequence[float]],
    ) -> None: ...
    @property
    def dim(self) -> int: ...
    def sample(self, n: int, *, seed: int = 0) -> np.ndarray:
        """n draws, float32 (n, d)."""
    def score(self, x: ArrayLike, t: Times, sde: Optional[SDE] = None) -> np.ndarray:
        """∇ log p_t(x) of the mixture pushed through sde (default vp), float32 (B, d)."""

class Checkpoint:
    """A network trained by `scorelab train`, from a checkpoint or run folder.

    The network works in model coordinates (images: [0, 1] mapped to [−1, 1]);
    `to_model` and `to_data` convert, and `sample` returns data coordinates.
    """

    def __init__(
        self, path: Union[str, PathLike], *, weights: str = "ema", step: Optional[int] = None
    ) -> None: ...
    def score(self, x: ArrayLike, t: Times) -> np.ndarray:
        """s(x, t) for x (B, d) in model coordinates, float32 (B, d)."""
    def to_model(self, x: ArrayLike) -> np.ndarray: ...
    def to_data(self, y: ArrayLike) -> np.ndarray: ...
    def training_set(self) -> np.ndarray:
        """The training set the network saw, in data coordinates, float32 (n, d)."""
    @property
    def sde(self) -> SDE: ...
    @property
    def dim(self) -> int: ...
    @property
    def step(self) -> int: ...
    @property
    def path(self) -> str: ...
    @property
    def normalisation_parameters(self) -> Tuple[float, float]: ...
    @property
    def image_shape(self) -> Optional[Tuple[int, int, int]]: ...
    @property
    def meta(self) -> dict: ...

class SampleResult:
    samples: np.ndarray
    """float32 (n, d), or (n, C, H, W) for images, in data coordinates."""
    path: list
    """[(τ, array shaped like samples)] at the recorded times, decreasing τ."""
    evaluations: int
    """Score (network) evaluations per sample, the denoising step included."""
    nonfinite_rows: list
    out_of_range: Optional[float]
    config: dict

Score = Union[str, Checkpoint, GaussianMixture, ScoreCallable]

def sample(
    score: Score,
    *,
    sde: Optional[SDE] = None,
    train: Optional[ArrayLike] = None,
    dim: Optional[int] = None,
    n: int = 100,
    sampler: str = "em",
    steps: int = 500,
    nfe: Optional[int] = None,
    t_min: float = 1e-3,
    grid: str = "quadratic",
    eps: Optional[float] = None,
    eta: Optional[float] = None,
    rtol: Optional[float] = None,
    atol: Optional[float] = None,
    rho: Optional[float] = None,
    churn: Optional[float] = None,
    churn_sigma_min: Optional[float] = None,
    churn_sigma_max: Optional[float] = None,
    churn_noise: Optional[float] = None,
    snr: float = 0.16,
    corrector_steps: int = 1,
    denoise: bool = False,
    seed: int = 0,
    record: Optional[Sequence[float]] = None,
    prior: str = "nominal",
    clip: bool = True,
    keep_finite: bool = False,
    device: str = "cpu",
    query_chunk: int = 1024,
    data_chunk: int = 4096,
) -> SampleResult:
    """Reverse-time sampling as `scorelab sample` does it, with its options and defaults.

    score: "empirical" (with train=), a GaussianMixture, a Checkpoint, or any callable
    f(x, t) -> array with x float32 (B, d) and t float64 (B,), called once per step on the
    whole batch (dim= or train= gives d). sampler: em, pc, ode-euler, ode-heun, ode-rk4,
    ode-rk45, exp/ddim (eta), edm (rho, churn*), dpm2m, dpm2m-sde (eta: its viscosity). The
    same options and seed give the same samples as the command line.
    """

def empirical_score(
    x: ArrayLike,
    t: Times,
    train: ArrayLike,
    sde: Optional[SDE] = None,
    *,
    query_chunk: int = 1024,
    data_chunk: int = 4096,
) -> np.ndarray:
    """The exact score of the Gaussian-smoothed training set, float32 (B, d)."""

def empirical_score_and_divergence(
    x: ArrayLike,
    t: Times,
    train: ArrayLike,
    sde: Optional[SDE] = None,
    *,
    query_chunk: int = 1024,
    data_chunk: int = 4096,
) -> Tuple[np.ndarray, np.ndarray]:
    """The empirical score and its exact divergence ∇·s, ((B, d), (B,))."""

def memorization(
    samples: ArrayLike,
    train: ArrayLike,
    fresh: Optional[ArrayLike] = None,
    *,
    threshold: float = 1.0 / 3.0,
) -> dict:
    """d1, d2, d1/d2 of each sample against train; memorised fraction (d1/d2 < threshold),
    copies per training point, the d1 histogram, and the same for fresh draws.

    Keys: samples, fresh, copies (distinct_copied, max_copies, counts), d1, d2, ratio,
    nearest, second_nearest, fresh_d1, histogram (edges, centres, samples, fresh).
    """

def paths(
    score: Score,
    *,
    train: Optional[ArrayLike] = None,
    sde: Optional[SDE] = None,
    n: int = 500,
    evaluations: int = 60,
    divergence: Optional[bool] = None,
    sampler: str = "em",
    steps: int = 500,
    nfe: Optional[int] = None,
    t_min: float = 1e-3,
    grid: str = "quadratic",
    eps: Optional[float] = None,
    eta: Optional[float] = None,
    seed: int = 0,
    device: str = "cpu",
    query_chunk: int = 1024,
    data_chunk: int = 4096,
) -> dict:
    """Path diagnostics against the empirical score of the training set (`analyze paths`).

    Keys: tau, sigma, series (per score: label, mean_d1, memorised_fraction, divergence),
    score_gap, scaled_score_gap, viscosity, gap_integral, novikov, config,
    score_evaluations_per_sample.
    """

def dataset(
    name: str,
    *,
    n: Optional[int] = None,
    noise: float = 0.0,
    seed: int = 0,
    split: str = "train",
    mnist_dir: Optional[Union[str, PathLike]] = None,
    path: Optional[Union[str, PathLike]] = None,
) -> np.ndarray:
    """A training set as `scorelab --dataset name` draws it from seed: swissroll, lemniscate,
    gmm, circle, mnist ((n, 1, 28, 28)) or csv (path= a .csv or .npy file)."""
