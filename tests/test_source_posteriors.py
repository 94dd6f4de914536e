"""The frozen source posteriors must predict exactly what GPyTorch predicts."""

import pytest
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from gpytorch.kernels import MaternKernel, ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood

from bo_transfer.methods.sources import SourcePosteriors


def _fitted(shift: float, n: int = 12, covar_module=None) -> SingleTaskGP:
    gen = torch.Generator().manual_seed(int(10 * shift))
    X = torch.rand(n, 2, generator=gen, dtype=torch.float64)
    y = (1 + shift) * torch.sin(5 * X + shift).sum(-1, keepdim=True)
    model = SingleTaskGP(X, y, covar_module=covar_module)
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model.eval()


CASES = {
    # BoTorch's default RBF kernel and equal sizes: the batched expression.
    "batched": (lambda: [_fitted(s) for s in (0.0, 1.0, 2.0)], True),
    # Another kernel, or unequal sizes: one kernel call per source.
    "other kernel": (
        lambda: [
            _fitted(0.0),
            _fitted(1.0, covar_module=ScaleKernel(MaternKernel(ard_num_dims=2))),
        ],
        False,
    ),
    "unequal sizes": (lambda: [_fitted(0.0, n=5), _fitted(1.0, n=9)], False),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("shape", [(7, 2), (4, 1, 2), (3, 5, 2)])
def test_source_posteriors_match_gpytorch(case, shape):
    build, batched = CASES[case]
    models = build()
    posteriors = SourcePosteriors(models)
    assert posteriors.batched is batched
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    mean, var = posteriors.means_and_variances(x)
    with torch.no_grad():
        post = [m.posterior(x) for m in models]
        ref_mean = torch.stack([p.mean.squeeze(-1) for p in post], -1)
        ref_var = torch.stack([p.variance.squeeze(-1) for p in post], -1)
    assert mean.shape == ref_mean.shape == (*shape[:-1], len(models))
    torch.testing.assert_close(mean, ref_mean, rtol=0, atol=1e-10)
    torch.testing.assert_close(var, ref_var, rtol=0, atol=1e-10)
    torch.testing.assert_close(posteriors.means(x), ref_mean, rtol=0, atol=1e-10)


def test_source_posteriors_pass_gradients_to_the_inputs():
    """The acquisition optimiser needs d mean / d x; the sources stay frozen."""
    models = [_fitted(0.0), _fitted(1.0)]
    posteriors = SourcePosteriors(models)
    x = torch.full((1, 2), 0.3, dtype=torch.float64, requires_grad=True)
    mean, var = posteriors.means_and_variances(x)
    (mean.sum() + var.sum()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not any(p.requires_grad for m in models for p in m.parameters())
