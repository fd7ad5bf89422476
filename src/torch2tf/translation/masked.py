"""``x[mask] = value`` (a boolean mask, a number) -> ``x = torch_mask_assign(x, mask, value)``.

TensorFlow tensors cannot be assigned into; rebinding ``x`` to the chosen values is the same
computation when nothing else holds ``x``'s tensor (``x`` made fresh just before, as for the
in-place methods of inplace.py). A mask is taken as one only when it visibly is: a comparison,
``~`` of one, ``&``/``|`` of them, or ``isnan()``/``isinf()``/``logical_*`` of a tensor.
"""

from __future__ import annotations

import ast

import libcst as cst

from torch2tf.names import code_of, dotted
from torch2tf.translation.inplace import held_elsewhere
from torch2tf.translation.rewrite_base import RewriteBase

_MASK_METHODS = frozenset(
    {"isnan", "isinf", "isfinite", "logical_not", "logical_and", "logical_or"}
)


def _is_mask(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Comparison):
        return True
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.BitInvert):
        return _is_mask(node.expression)
    if isinstance(node, cst.BinaryOperation) and isinstance(
        node.operator, cst.BitAnd | cst.BitOr | cst.BitXor
    ):
        return _is_mask(node.left) and _is_mask(node.right)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.attr.value in _MASK_METHODS
    return False


# Tensor methods whose rule reads whether the receiver is boolean (torch sums bools as int64).
BOOL_SENSITIVE = frozenset({"sum"})


def visibly_bool(node: cst.BaseExpression, parents) -> bool:
    """Whether ``node`` is visibly a boolean tensor: a mask expression, or a local name every
    assignment of which in its function is one."""
    if _is_mask(node):
        return True
    if not isinstance(node, cst.Name):
        return False
    func = parents.get(node)
    while func is not None and not isinstance(func, cst.FunctionDef):
        func = parents.get(func)
    if func is None:
        return False
    values: list[cst.BaseExpression] = []
    name = node.value

    class Finder(cst.CSTVisitor):
        def visit_Assign(self, assign: cst.Assign) -> None:
            if any(dotted(t.target) == name for t in assign.targets):
                values.append(assign.value)

        def visit_AugAssign(self, assign: cst.AugAssign) -> None:
            if dotted(assign.target) == name:
                values.append(assign.target)  # not a mask: unknown

        def visit_Param(self, param: cst.Param) -> None:
            if param.name.value == name:
                values.append(param.name)

    func.visit(Finder())
    return bool(values) and all(_is_mask(v) for v in values)


def _is_number(node: cst.BaseExpression) -> bool:
    try:
        value = ast.literal_eval(code_of(node))
    except (ValueError, SyntaxError):
        return False
    return isinstance(value, int | float) and not isinstance(value, bool)


def masked_target(assign: cst.Assign) -> tuple[str, cst.BaseExpression] | None:
    """(``x``, mask) of ``x[mask] = value`` with a visible boolean mask, else None."""
    if len(assign.targets) != 1:
        return None
    target = assign.targets[0].target
    if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name)):
        return None
    if len(target.slice) != 1 or not isinstance(target.slice[0].slice, cst.Index):
        return None
    mask = target.slice[0].slice.value
    return (target.value.value, mask) if _is_mask(mask) else None


class MaskedAssignRewrite(RewriteBase):
    """``x[mask] = 0`` in forward code -> ``x = torch_mask_assign(x, mask, 0)``."""

    def leave_Assign(self, original: cst.Assign, updated: cst.Assign):
        found = masked_target(original)
        if found is None or not (self.in_call or self.in_tensor_function):
            return updated
        name, _ = found
        line = self.parents.get(original)
        problem = "it shares its line with other statements"
        if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1:
            problem = held_elsewhere(line, name, self.parents, self.imports.qualify)
        if not _is_number(original.value):
            problem = (
                problem or "its value is not a number (torch fills the chosen places in order)"
            )
        if problem is not None:
            self.error(
                original,
                f"assigning into a tensor through a mask ({name}[...] = ...) is translated only "
                f"for a number on a local tensor nothing else holds; here {problem}",
                f"rebuild it whole: `{name} = torch.where(mask, value, {name})`",
            )
            return updated
        mask = updated.targets[0].target.slice[0].slice.value
        return cst.parse_statement(
            f"{name} = torch_mask_assign({name}, {code_of(mask)}, {code_of(updated.value)})"
        ).body[0]
