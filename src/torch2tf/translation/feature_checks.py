"""Checks of what torch itself provides (timm's ``_has_silu = 'silu' in dir(torch.nn.functional)``,
``hasattr(F, 'rms_norm')``): facts of the installed torch, not of the model's tensors. They are
read from the torch installed where the translation runs (the one the model's code runs with
when it is converted) and written as the literal they evaluate to:

    'silu' in dir(torch.nn.functional)  ->  True
    hasattr(F, 'no_such_function')      ->  False

Only a literal name asked of a torch module, class or function is read; anything else is left
to the rest of the translation.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from torch2tf.names import dotted, installed_torch_object
from torch2tf.translation.rewrite_base import RewriteBase


def _literal_name(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


class FeatureCheckRewrite(RewriteBase):
    """``hasattr(torch_thing, 'name')`` and ``'name' in dir(torch_thing)`` as literals."""

    def _provided(self, owner: cst.BaseExpression) -> Any:
        if not isinstance(owner, (cst.Name, cst.Attribute)):
            return None
        return installed_torch_object(self.imports.qualify(owner))

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if dotted(original.func) == "hasattr" and len(original.args) == 2:
            owner, name = (a.value for a in original.args)
            found = self._provided(owner)
            attr = _literal_name(name)
            if found is not None and attr is not None and not original.args[1].keyword:
                self._settle(original)
                return cst.Name(str(hasattr(found, attr)))
        return super().leave_Call(original, updated)

    def leave_Comparison(self, original: cst.Comparison, updated: cst.Comparison):
        if len(original.comparisons) != 1:
            return updated
        target = original.comparisons[0]
        call = target.comparator
        if not (
            isinstance(target.operator, (cst.In, cst.NotIn))
            and isinstance(call, cst.Call)
            and dotted(call.func) == "dir"
            and len(call.args) == 1
        ):
            return updated
        found = self._provided(call.args[0].value)
        attr = _literal_name(original.left)
        if found is None or attr is None:
            return updated
        self._settle(original)
        present = attr in dir(found)
        return cst.Name(str(present if isinstance(target.operator, cst.In) else not present))
