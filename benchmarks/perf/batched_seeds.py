"""Investigation: does fitting S seeds' GPs as one batched model pay off?

    python benchmarks/perf/batched_seeds.py [--device cpu|cuda] [--sizes 8 16]

BoTorch models with a batch shape fit S independent GPs at once (BoTorch 0.18:
one L-BFGS-B state per batch element, evaluated together). A vectorized
sweep would fit S seeds of one (pair, method) per iteration that way. This
times, for S seeds of a cold-gp iteration (n training points each, dim d):
  - sequential: S separate SingleTaskGP fits and S posterior evaluations on
    512 raw samples each (what scoring the acquisition's raw samples costs);
  - batched: one SingleTaskGP with batch shape S, one fit, one batched
    posterior evaluation.
It prints the time ratio batched / sequential (< 1 means batching wins).
"""

from __future__ import annotations

import argparse
import time

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from gpytorch.mlls import ExactMarginalLogLikelihood


def data(S: int, n: int, d: int, device: str):
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(S, n, d, generator=gen, dtype=torch.float64)
    y = torch.sin(6 * X).sum(-1, keepdim=True) + 0.01 * torch.randn(
        S, n, 1, generator=gen, dtype=torch.float64
    )
    return X.to(device), y.to(device)


def sequential(X, y, raw):
    for s in range(X.shape[0]):
        model = SingleTaskGP(X[s], y[s])
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        with torch.no_grad():
            post = model.posterior(raw)
            _ = (post.mean, post.variance)


def batched(X, y, raw):
    model = SingleTaskGP(X, y)
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    with torch.no_grad():
        # raw: 512 x 1 x 1 x d broadcasts against the model batch: 512 x S posteriors
        post = model.posterior(raw.unsqueeze(1))
        _ = (post.mean, post.variance)


def timed(fn, *args, device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn(*args)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--n", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--dim", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"device {args.device}, dim {args.dim}")
    print("| S | n | sequential s | batched s | batched / sequential |")
    print("|---|---|---|---|---|")
    for S in args.sizes:
        for n in args.n:
            X, y = data(S, n, args.dim, args.device)
            raw = torch.rand(512, 1, args.dim, dtype=torch.float64, device=args.device)
            timed(batched, X[:2], y[:2], raw, device=args.device)  # warm-up
            seq = min(timed(sequential, X, y, raw, device=args.device) for _ in range(args.reps))
            bat = min(timed(batched, X, y, raw, device=args.device) for _ in range(args.reps))
            print(f"| {S} | {n} | {seq:.2f} | {bat:.2f} | {bat / seq:.2f} |")


if __name__ == "__main__":
    main()
