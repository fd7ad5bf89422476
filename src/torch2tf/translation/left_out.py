"""torch layer classes the live model never builds, whose translation fails: a registry's entry
(``Norm.add("group", nn.GroupNorm)``) or a layer made in a branch of ``__init__`` the model
did not take. Each becomes a function raising the problem when called, so a model built with
it fails loudly, and is listed in the report's ``left_out``."""

from __future__ import annotations

from typing import Any

import libcst as cst

from torch2tf.tensor_facts.live import constructs, leave_out_value


def left_out_layer(qualified: str, problem: str, file: str, line: int) -> tuple[str, str]:
    """(name, source) of the function standing for ``qualified``; noted as left out."""
    name = "nn_" + qualified.rsplit(".", 1)[1].lower() + "_left_out"
    message = f"{qualified} was not translated (the converted model holds none): {problem}"
    source = (
        f"def {name}(*args, **kwargs):\n"
        f'    """{qualified.removeprefix("torch.")} left out: the converted model holds none."""\n'
        f"    raise NotImplementedError({message!r})\n"
    )
    entry = {"name": qualified, "kind": "value", "file": file, "line": line}
    leave_out_value({**entry, "reason": f"not used by the converted model: {problem}"})
    return name, source


def left_out_call(rewrite: Any, original: cst.Call, updated: cst.Call, qualified: str):
    """``rewrite``'s translation of the layer ``original`` constructs; where it reports
    problems and the live model holds none (made in a branch it did not take), the call of
    the left-out function instead."""
    before = len(rewrite.diagnostics)
    made = rewrite._layer(original, updated, qualified)
    if len(rewrite.diagnostics) <= before or constructs(qualified) is not False:
        return made
    problem = rewrite.diagnostics[before].message
    del rewrite.diagnostics[before:]
    line = rewrite.positions[original].start.line
    name, source = left_out_layer(qualified, problem, str(rewrite.path), line)
    rewrite.generated[name] = source
    return cst.Call(cst.Name(name))
