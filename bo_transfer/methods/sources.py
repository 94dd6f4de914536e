"""Frozen source-GP posteriors, evaluated for all sources in one tensor expression.

Methods that consult fitted source GPs inside the acquisition function
(``prior-mean``'s prior mean, ``rgpe``'s ensemble, ``taf``'s improvements)
evaluate every source at every candidate the optimiser tries. Through
GPyTorch each source costs one ``posterior`` call, whose fixed overhead
dominates at a few dozen source points; with 5 sources that put ``rgpe`` and
``prior-mean`` above 1.5x ``cold-gp`` per iteration (issue 7). The source
hyperparameters never change after ``start``, so the posterior's linear
algebra (``alpha = K^-1 (y - m)`` and the Cholesky factor of ``K``) is done
once here, and when every source GP has BoTorch's default RBF kernel and the
same number of points, all sources are evaluated as one batched expression.
Other kernels fall back to one kernel call per source, with the same numbers.
"""

from __future__ import annotations

import copy
import hashlib
from collections import OrderedDict
from typing import TYPE_CHECKING

import botorch
import gpytorch
import torch
from botorch.models import SingleTaskGP
from gpytorch.kernels import RBFKernel
from torch import Tensor

from bo_transfer.methods.gp import load_parameters, parameters_of, source_arrays, standardize

if TYPE_CHECKING:
    from bo_transfer.methods.base import Method

#: Fitted source-GP hyperparameters by source data and fit configuration
#: (content hash), per process: methods and runs that see the same source data
#: (same pair, seed and source options) fit it once. Bounded, least recently
#: used first out.
_SOURCE_FITS: OrderedDict[str, dict[str, Tensor]] = OrderedDict()
_SOURCE_FITS_MAX = 256

#: What a source fit is, part of its cache key: a change here (or in the
#: library versions) can never return a fit made another way.
SOURCE_FIT = (
    "SingleTaskGP(BoTorch defaults) on -standardize(y); fit_gpytorch_mll defaults; "
    f"seeded by the data; botorch {botorch.__version__}, gpytorch {gpytorch.__version__}"
)


def source_fit_key(X: Tensor, y: Tensor, config: str = SOURCE_FIT) -> str:
    """The cache key of a fit of ``config`` to ``(X, y)``: a hash of the
    configuration, the tensors' dtypes and shapes, and their bytes."""
    digest = hashlib.sha1(config.encode())
    for t in (X, y):
        digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def fit_source_models(method: Method) -> list[SingleTaskGP]:
    """One GP per source of ``method``'s run on standardized source values (so
    every source model predicts in the same units, `-y` standardized), fitted
    (timed and fault-counted on ``method``) once per distinct source data in a
    process and reused by every method and run that sees the same data.

    A fit draws its random numbers (BoTorch's restarts after an optimisation
    warning) from a generator seeded by its key, so a fit from the cache is,
    to the bit, the fit the run would make itself.
    """
    models = []
    for X, y in source_arrays(method.sources):
        key = source_fit_key(X, y)
        cached = _SOURCE_FITS.get(key)
        if cached is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(key[:15], 16))
                model = method.fit_gp(X, standardize(y), slot=None)
            _SOURCE_FITS[key] = parameters_of(model)
            while len(_SOURCE_FITS) > _SOURCE_FITS_MAX:
                _SOURCE_FITS.popitem(last=False)
        else:
            _SOURCE_FITS.move_to_end(key)
            model = SingleTaskGP(X, -standardize(y).unsqueeze(-1))
            load_parameters(model, cached)
            model.eval()
        models.append(model)
    return models


class SourcePosteriors(torch.nn.Module):
    """Posterior means and latent variances of fitted source GPs, frozen.

    Values are in each model's output units (what ``model.posterior`` returns:
    its outcome transform undone), so models fitted to standardized source
    values all predict in the same units.

    Args:
        models: fitted single-output exact GPs (``SingleTaskGP``), eval mode.
    """

    def __init__(self, models: list[SingleTaskGP]) -> None:
        super().__init__()
        self.n_sources = len(models)
        self._kernels = []  # plain list: the source kernels must not become submodules
        X_all, alpha_all, L_inv_all, const_all, scale_all, shift_all = [], [], [], [], [], []
        for model in models:
            X_s = model.train_inputs[0]
            with torch.no_grad():
                noise = model.likelihood.noise.squeeze()
                K = model.covar_module(X_s).to_dense() + noise * torch.eye(
                    len(X_s), dtype=X_s.dtype
                )
                L = torch.linalg.cholesky(K)
                const = model.mean_module(X_s)
                alpha = torch.cholesky_solve((model.train_targets - const).unsqueeze(-1), L)
                tf = getattr(model, "outcome_transform", None)
                one = torch.ones((), dtype=X_s.dtype)
                scale = tf.stdvs.squeeze() if tf is not None else one
                shift = tf.means.squeeze() if tf is not None else 0 * one
            model.requires_grad_(False)
            X_all.append(X_s)
            alpha_all.append(alpha.squeeze(-1))
            # L^-1 once, so variances are matrix products, not triangular solves.
            L_inv_all.append(
                torch.linalg.solve_triangular(L, torch.eye(len(X_s), dtype=X_s.dtype), upper=False)
            )
            const_all.append(const[0])
            scale_all.append(scale)
            shift_all.append(shift)
            self._kernels.append(model.covar_module)
        self.batched = (
            bool(models)
            and all(
                type(m.covar_module) is RBFKernel and m.covar_module.active_dims is None
                for m in models
            )
            and len({tuple(X.shape) for X in X_all}) == 1
        )
        self._X, self._alpha, self._L_inv = X_all, alpha_all, L_inv_all
        dtype = X_all[0].dtype if X_all else torch.float64
        self.register_buffer("const", torch.stack(const_all) if models else torch.zeros(0))
        self.register_buffer(
            "scale", torch.stack(scale_all).to(dtype) if models else torch.zeros(0)
        )
        self.register_buffer(
            "shift", torch.stack(shift_all).to(dtype) if models else torch.zeros(0)
        )
        if self.batched:
            self.register_buffer("X", torch.stack(X_all))  # K x n x d
            self.register_buffer("alpha", torch.stack(alpha_all))  # K x n
            self.register_buffer("L_inv", torch.stack(L_inv_all))  # K x n x n
            lengthscale = torch.stack([m.covar_module.lengthscale.detach() for m in models])
            self.register_buffer("lengthscale", lengthscale)  # K x 1 x d

    def on(self, device: torch.device) -> SourcePosteriors:
        """These posteriors with every tensor on ``device`` (``self`` on the CPU;
        elsewhere a copy, made once)."""
        device = torch.device(device)
        if device.type == "cpu":
            return self
        copies = self.__dict__.setdefault("_copies", {})
        if device not in copies:
            moved = copy.deepcopy(self).to(device)
            moved._X = [t.to(device) for t in moved._X]
            moved._alpha = [t.to(device) for t in moved._alpha]
            moved._L_inv = [t.to(device) for t in moved._L_inv]
            moved._kernels = [k.to(device) for k in moved._kernels]
            moved.__dict__.pop("_copies", None)
            copies[device] = moved
        return copies[device]

    def means(self, x: Tensor) -> Tensor:
        """`... x m x K` posterior means at ``x`` (`... x m x d`)."""
        return self._evaluate(x, variances=False)[0]

    def means_and_variances(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior means and latent (noise-free) variances at ``x``, each `... x m x K`."""
        return self._evaluate(x, variances=True)

    def _evaluate(self, x: Tensor, variances: bool) -> tuple[Tensor, Tensor | None]:
        shape = (*x.shape[:-1], self.n_sources)
        if not self.n_sources:
            empty = x.new_zeros(shape)
            return empty, (empty if variances else None)
        flat = x.reshape(-1, x.shape[-1])  # all batch dimensions as rows: N x d
        var = None
        if self.batched:
            # k(x, X_s) for all sources: K x N x n, squared distances by
            # expansion as GPyTorch computes them (clamped at 0).
            z = flat / self.lengthscale
            Z = self.X / self.lengthscale
            sq = (z**2).sum(-1, keepdim=True) - 2 * z @ Z.mT + (Z**2).sum(-1).unsqueeze(-2)
            k = torch.exp(-0.5 * sq.clamp_min(0))
            latent = (k @ self.alpha.unsqueeze(-1)).squeeze(-1) + self.const.unsqueeze(-1)
            if variances:  # the RBF kernel's prior variance is 1
                var = (1 - ((k @ self.L_inv.mT) ** 2).sum(-1)).clamp_min(0).mT
            latent = latent.mT  # N x K
        else:
            means, vars_ = [], []
            for c, a, X_s, L_inv, kern in zip(
                self.const, self._alpha, self._X, self._L_inv, self._kernels
            ):
                k = kern(flat, X_s).to_dense()  # N x n
                means.append(c + k @ a)
                if variances:
                    prior = kern(flat, diag=True)
                    vars_.append((prior - ((k @ L_inv.mT) ** 2).sum(-1)).clamp_min(0))
            latent = torch.stack(means, -1)
            var = torch.stack(vars_, -1) if variances else None
        mean = (self.shift + self.scale * latent).reshape(shape)
        return mean, (self.scale**2 * var).reshape(shape) if variances else None
