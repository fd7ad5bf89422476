"""Custom autograd functions (torch.autograd.Function) in the styles real code writes them:
a saved tensor and a setting on ctx, a straight-through estimator, an input without gradient,
and a sparse normaliser built from sort, cumsum, gather and a masked assignment."""

import torch
from torch import nn
from torch.autograd import Function


class SoftClip(Function):
    """x * limit / (limit + |x|), with a gradient that ignores the clipping (by design)."""

    @staticmethod
    def forward(ctx, x, limit=2.0):
        ctx.limit = limit
        ctx.save_for_backward(x)
        return x * limit / (limit + x.abs())

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        inside = (x.abs() < ctx.limit).to(grad.dtype)
        return grad * inside, None


class RoundThrough(Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


class Gate(Function):
    """a * sigmoid(b): the gradient reaches a only."""

    @staticmethod
    def forward(ctx, a, b):
        g = torch.sigmoid(b)
        ctx.save_for_backward(g)
        return a * g

    @staticmethod
    def backward(ctx, grad):
        (g,) = ctx.saved_tensors
        return grad * g, None


def _ranks(z, dim):
    """1, 2, ..., n along dim, shaped to broadcast against z."""
    n = z.size(dim)
    shape = [1] * z.dim()
    shape[dim] = -1
    return torch.arange(1, n + 1, dtype=z.dtype).view(shape)


class SparseNorm(Function):
    """Projection onto the simplex along dim: values sum to 1, many exactly 0."""

    @staticmethod
    def forward(ctx, z, dim=-1):
        ctx.dim = dim
        z = z - z.max(dim=dim, keepdim=True)[0]
        ordered, _ = torch.sort(z, dim=dim, descending=True)
        running = ordered.cumsum(dim) - 1
        kept = _ranks(z, dim) * ordered > running
        count = kept.sum(dim=dim, keepdim=True)
        threshold = running.gather(dim, count - 1) / count.to(z.dtype)
        out = torch.clamp(z - threshold, min=0)
        ctx.save_for_backward(out, count)
        return out

    @staticmethod
    def backward(ctx, grad):
        out, count = ctx.saved_tensors
        g = grad.clone()
        g[out == 0] = 0
        mean = g.sum(dim=ctx.dim, keepdim=True) / count.to(g.dtype)
        return torch.where(out > 0, g - mean, g), None


class ClipNet(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc = nn.Linear(d, d)

    def forward(self, x):
        return SoftClip.apply(self.fc(x), 1.5) + RoundThrough.apply(x)


class GateNet(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.a = nn.Linear(d, d)
        self.b = nn.Linear(d, d)

    def forward(self, x):
        return Gate.apply(self.a(x), self.b(x))


sparse_norm = SparseNorm.apply


class SparseAttention(nn.Module):
    def __init__(self, d, groups):
        super().__init__()
        self.fc = nn.Linear(d, groups)
        self.norm = nn.BatchNorm1d(groups)
        self.unused_norm = nn.BatchNorm1d(d)  # never called: its weights exist all the same

    def forward(self, x):
        return sparse_norm(self.norm(self.fc(x)), -1)
