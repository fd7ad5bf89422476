"""The readable summary of a conversion's checks (``Conversion.table``)."""

from __future__ import annotations

import torch

from torch2tf.roundoff import RoundOff
from torch2tf.torch_source import source_line
from torch2tf.verify import Check


def table(checks: list[Check], torch_model: torch.nn.Module, atol: float, rtol: float) -> str:
    """One line per layer and mode, the whole output's (and its round-off comparison's when
    it was made), then the verdict."""
    rows = [f"{'mode':<6} {'layer':<28} {'torch':<14} {'keras':<20} {'max abs err':>12}  ok"]
    for c in checks:
        for layer in c.layers:
            rows.append(
                f"{c.mode:<6} {layer.layer:<28} {layer.torch_type:<14} "
                f"{layer.keras_type:<20} {layer.max_abs_error:>12.3e}  "
                f"{'yes' if layer.within_tolerance else 'NO'}"
            )
            if layer.roundoff is not None:
                rows.append(_roundoff_row(c.mode, f"({layer.layer}, round-off)", layer.roundoff))
        rows.append(
            f"{c.mode:<6} {'(whole model)':<28} {'':<14} {'':<20} "
            f"{c.max_abs_error:>12.3e}  {'yes' if c.within_tolerance else 'NO'}"
        )
        if c.roundoff is not None:
            rows.append(_roundoff_row(c.mode, "(whole model, round-off)", c.roundoff))
    rows.append(
        f"{verdict(checks, torch_model)}: max abs error "
        f"{max(c.max_abs_error for c in checks):.3e} (atol {atol:g}, rtol {rtol:g})"
    )
    return "\n".join(rows)


def _roundoff_row(mode: str, what: str, roundoff: RoundOff) -> str:
    return f"{mode:<6} {what:<28} {roundoff.describe()}  {'yes' if roundoff.passed else 'NO'}"


def verdict(checks: list[Check], torch_model: torch.nn.Module) -> str:
    judged = [
        (c.mode, what, roundoff)
        for c in checks
        for what, roundoff in [("the whole output", c.roundoff)]
        + [(layer.layer, layer.roundoff) for layer in c.layers]
        if roundoff is not None and roundoff.passed
    ]
    failed = [c for c in checks if not c.passed]
    if not failed and not judged:
        return "PASSED"
    if not failed:
        roundoff = judged[0][2]
        where = "; ".join(
            f"{mode}: {', '.join(w for m, w, _ in judged if m == mode)}"
            for mode in dict.fromkeys(m for m, _, _ in judged)
        )
        return (
            f"PASSED by the round-off comparison for outputs beyond the tolerance whose "
            f"layers inside are all within it ({where}): within {roundoff.factor:g}x "
            f"torch's own {roundoff.dtype} round-off, both measured from torch's float64 output"
        )
    first = next(
        (layer for c in failed for layer in c.layers if layer.layer == c.first_divergent_layer),
        None,
    )
    if first is not None:
        where = source_line(torch_model, first.layer)
        why = (
            f"; every layer inside it within the tolerance, its output beyond the round-off "
            f"comparison: {first.roundoff.describe()}"
            if first.roundoff is not None
            else ""
        )
        return (
            f"FAILED (first divergent layer: {first.layer}{f' at {where}' if where else ''}{why})"
        )
    if any(c.roundoff is not None for c in failed):
        modes = ", ".join(c.mode for c in failed if c.roundoff is not None)
        return (
            "FAILED (no single layer diverges; the whole output is beyond the tolerance and, "
            f"in {modes}, beyond the round-off comparison)"
        )
    return "FAILED (the whole model diverges, no single layer does)"
