"""In-place tensor methods (``p.unsqueeze_(1)``) as a rebinding (``p = tf.expand_dims(p, 1)``).

TensorFlow tensors cannot change, but an in-place method whose result is unused changes only
what the name ``p`` sees, so rebinding ``p`` to the out-of-place result is the same computation
as long as nothing else holds ``p``'s tensor (another name, a list, an attribute, the caller)
or its storage. That is checked here: ``p`` must be a local made fresh in the same function (by
an operation that always allocates), unused between there and the in-place call, and no loop
may lie between the two (the next round would see the changed tensor through another path).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import libcst as cst

from torch2tf.names import dotted

# torch layers whose output is always a new tensor (never their input, nor a view of it, as
# nn.Identity's, nn.Dropout's in eval mode and nn.Flatten's are), by class name prefix.
ALLOCATING_LAYERS = (
    "Conv",
    "Linear",
    "Bilinear",
    "BatchNorm",
    "GroupNorm",
    "LayerNorm",
    "InstanceNorm",
    "MaxPool",
    "AvgPool",
    "AdaptiveAvgPool",
    "AdaptiveMaxPool",
)


def allocating_layer(qualified: str) -> bool:
    """Whether the torch layer ``qualified`` always returns a new tensor."""
    module, _, name = qualified.rpartition(".")
    return module == "torch.nn" and name.startswith(ALLOCATING_LAYERS)


# Calls that always return a new tensor with storage of its own (never their input itself).
FRESH = frozenset(
    f"torch.{name}"
    for name in (
        "cat concat concatenate stack hstack vstack matmul mm bmm einsum outer "
        "zeros ones full empty zeros_like ones_like full_like empty_like rand randn arange "
        "tensor clone"
    ).split()
)


def inplace_base(call: cst.Call, methods: Mapping[str, object]) -> str | None:
    """``unsqueeze`` for ``x.unsqueeze_(...)`` when the out-of-place method is translated."""
    func = call.func
    if not isinstance(func, cst.Attribute) or not func.attr.value.endswith("_"):
        return None
    base = func.attr.value[:-1]
    return base if base and not base.endswith("_") and base in methods else None


def _mentions(node: cst.CSTNode, name: str) -> bool:
    found = False

    class Finder(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            nonlocal found
            found |= node.value == name

    node.visit(Finder())
    return found


def _mentions_in_tests(chain: cst.If, name: str) -> bool:
    """Whether a test of the if/elif chain starting at ``chain`` uses ``name``."""
    node: cst.CSTNode | None = chain
    while isinstance(node, cst.If):
        if _mentions(node.test, name):
            return True
        node = node.orelse
    return False


def _fresh(statement: cst.CSTNode, name: str, qualify: Callable[[cst.CSTNode], str | None]):
    """Whether ``statement`` is ``name = <a new tensor>`` (None: it does not bind ``name``)."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    assign = statement.body[0]
    if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
        return False
    if dotted(assign.targets[0].target) != name:
        return False
    value = assign.value
    if _mentions(value, name):
        return False
    if isinstance(value, cst.BinaryOperation):  # arithmetic makes a new tensor
        return True
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
        if value.func.attr.value == "clone" and not value.args:  # x.clone(): a copy
            return True
    return isinstance(value, cst.Call) and qualify(value.func) in FRESH


def _rebinds_itself(node: cst.CSTNode | None, name: str) -> bool:
    """Whether ``node`` is ``name = <a call>`` (the call an in-place method of ``name``)."""
    return (
        isinstance(node, cst.Assign)
        and len(node.targets) == 1
        and dotted(node.targets[0].target) == name
    )


def _inplace_rebinding(statement: cst.CSTNode, name: str) -> bool:
    """Whether ``statement`` is ``name = name.op_(...)`` or ``name.op_(...)``, its
    arguments not using ``name``."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    if isinstance(small, cst.Assign) and _rebinds_itself(small, name):
        value = small.value
    elif isinstance(small, cst.Expr):
        value = small.value
    else:
        return False
    return (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and dotted(value.func.value) == name
        and value.func.attr.value.endswith("_")
        and not any(_mentions(arg, name) for arg in value.args)
    )


def rebinding_problem(
    call: cst.Call,
    parents: Mapping[cst.CSTNode, cst.CSTNode],
    qualify: Callable[[cst.CSTNode], str | None],
) -> str | None:
    """Why ``x.op_(...)`` cannot become ``x = <x.op(...)>``; None when it can."""
    receiver = call.func.value
    if not isinstance(receiver, cst.Name):
        return "its tensor is not a local name"
    name = receiver.value
    expr = parents.get(call)
    line = parents.get(expr)
    # a statement, or ``x = x.op_(...)``: its result is the rebound x
    statement = isinstance(expr, cst.Expr) or _rebinds_itself(expr, name)
    if not statement or not isinstance(line, cst.SimpleStatementLine):
        return "its result is used (it is the same tensor as the changed one)"
    if len(line.body) != 1:
        return "it shares its line with other statements"
    if any(_mentions(arg, name) for arg in call.args):
        return f"its arguments use {name}"
    return held_elsewhere(line, name, parents, qualify)


def held_elsewhere(
    line: cst.SimpleStatementLine,
    name: str,
    parents: Mapping[cst.CSTNode, cst.CSTNode],
    qualify: Callable[[cst.CSTNode], str | None],
) -> str | None:
    """Why changing the local ``name``'s tensor in place at ``line`` may be seen through
    another path (see above); None when ``name`` was made fresh just before."""
    node: cst.CSTNode = line
    while True:
        parent = parents.get(node)
        if isinstance(parent, cst.IndentedBlock):
            before = parent.body[: parent.body.index(node)]
            for statement in reversed(before):
                if _fresh(statement, name, qualify):
                    return None
                if _inplace_rebinding(statement, name):
                    continue  # ``x = x.op_(...)`` above: checked where it is translated
                if _mentions(statement, name):
                    return (
                        f"{name} may be held elsewhere too: it is used above without being made "
                        "just before by an operation that always allocates (torch.cat, "
                        "arithmetic, ...)"
                    )
            parent = parents.get(parent)
            if isinstance(parent, cst.FunctionDef):
                return f"{name} is not made in this function (an argument the caller holds)"
            if isinstance(parent, cst.Else):
                parent = parents.get(parent)
            if not isinstance(parent, cst.If):
                return "a loop or another block lies between it and where its tensor is made"
            while isinstance(parents.get(parent), cst.If):  # an elif chain
                parent = parents.get(parent)
            if _mentions_in_tests(parent, name):
                return f"a condition above it uses {name}"
            node = parent
            continue
        return "a loop or another block lies between it and where its tensor is made"


def last_use(
    call: cst.Call,
    parents: Mapping[cst.CSTNode, cst.CSTNode],
    allocates: Callable[[cst.Call], bool] = lambda _: False,
    returns_input: Callable[[cst.Call], bool] = lambda _: False,
) -> bool:
    """Whether ``F.relu(x, inplace=True)`` changes a tensor nothing reads afterwards, so the
    out-of-place result is the same computation: ``x`` a local made by one call of its
    function (``x = self.features(inp)``) used nowhere else, or made just before by arithmetic
    or a call that ``allocates`` (a new tensor, never its input: a conv, a BatchNorm, not
    Dropout or Identity) and not read after (see :func:`_read_after`), or the input such a
    call's result, held by no name (``F.relu(self.fc1(x), inplace=True)``); outside any loop.
    Never a tensor made by a call that may ``returns_input`` (``y = self.drop(x)``)."""
    first = call.args[0].value if call.args and call.args[0].keyword is None else None
    if isinstance(first, cst.Call):
        return allocates(first) and _function_of(call, parents) is not None
    if not isinstance(first, cst.Name):
        return False
    if _made_just_before(first, call, parents, allocates):
        return True
    name = first.value
    node: cst.CSTNode | None = parents.get(call)
    while node is not None and not isinstance(node, cst.FunctionDef):
        if isinstance(node, (cst.For, cst.While, cst.CompFor)):
            return False
        node = parents.get(node)
    if node is None:
        return False
    params = node.params
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    if any(p.name.value == name for p in every):
        return False  # the caller's tensor
    made, others = 0, 0

    class Uses(cst.CSTVisitor):
        def visit_Assign(self, assign: cst.Assign) -> None:
            nonlocal made
            if [dotted(t.target) for t in assign.targets] == [name]:
                value = assign.value  # its own use of name is counted
                made += isinstance(value, cst.Call) and not returns_input(value)

        def visit_Attribute(self, attribute: cst.Attribute) -> bool:
            attribute.value.visit(self)  # self.features is not the name features
            return False

        def visit_Name(self, found: cst.Name) -> None:
            nonlocal others
            others += found.value == name and found is not first

    node.body.visit(Uses())
    return made == 1 and others == 1  # its one assignment's target, and this argument


def _function_of(node: cst.CSTNode, parents) -> cst.FunctionDef | None:
    """The function ``node`` is in, None when a loop lies between them."""
    parent = parents.get(node)
    while parent is not None and not isinstance(parent, cst.FunctionDef):
        if isinstance(parent, (cst.For, cst.While, cst.CompFor)):
            return None
        parent = parents.get(parent)
    return parent


def _names(node: cst.CSTNode) -> list[cst.Name]:
    found: list[cst.Name] = []

    class Finder(cst.CSTVisitor):
        def visit_Name(self, name: cst.Name) -> None:
            found.append(name)

    node.visit(Finder())
    return found


def _made_just_before(first: cst.Name, call: cst.Call, parents, allocates) -> bool:
    """``x = self.conv(x); x = self.bn(x); return F.relu(x, inplace=True)``: the tensor ``x``
    holds was made by the nearest statement above (in its block, or before the if holding
    it) that mentions ``x``, arithmetic or a call that ``allocates`` assigned to ``x`` alone;
    the call's statement reads ``x``
    nowhere else and nothing after it reads that tensor (see :func:`_read_after`)."""
    name = first.value
    expr = parents.get(call)
    while expr is not None and not isinstance(expr, cst.BaseSmallStatement):
        expr = parents.get(expr)
    line = parents.get(expr) if expr is not None else None
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
        return False
    if _function_of(line, parents) is None:
        return False
    value = expr.value if isinstance(expr, (cst.Assign, cst.Return, cst.Expr)) else None
    if value is None or [n for n in _names(value) if n.value == name] != [first]:
        return False
    if _read_after(line, expr, name, parents):
        return False
    node: cst.CSTNode = line
    while True:
        block = parents.get(node)
        if not isinstance(block, cst.IndentedBlock):
            return False
        for statement in reversed(block.body[: block.body.index(node)]):
            if not _mentions(statement, name):
                continue
            small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else None
            return (
                isinstance(small, cst.Assign)
                and len(statement.body) == 1
                and [dotted(t.target) for t in small.targets] == [name]
                and (
                    isinstance(small.value, cst.BinaryOperation)
                    or isinstance(small.value, cst.Call)
                    and allocates(small.value)
                )
            )
        owner = parents.get(block)
        if isinstance(owner, cst.Else):
            owner = parents.get(owner)
        while isinstance(parents.get(owner), cst.If) and parents[owner].orelse is owner:
            owner = parents[owner]  # an elif: its chain's first if
        if not isinstance(owner, cst.If) or _mentions_in_tests(owner, name):
            return False  # the function's start (a parameter), a with, a try, a test using x
        node = owner


def _read_after(line: cst.SimpleStatementLine, small, name: str, parents) -> bool:
    """Whether the tensor ``name`` holds may be read after ``line``: never after a
    ``return``; after ``name = ...`` later reads see the new value; otherwise whether any
    statement below (in its block or the enclosing ones) mentions ``name``."""
    if isinstance(small, cst.Return):
        return False
    if isinstance(small, cst.Assign) and [dotted(t.target) for t in small.targets] == [name]:
        return False
    node: cst.CSTNode = line
    while not isinstance(node, cst.FunctionDef):
        block = parents.get(node)
        if isinstance(block, cst.IndentedBlock):
            after = block.body[block.body.index(node) + 1 :]
            if any(_mentions(statement, name) for statement in after):
                return True
        elif block is None:
            return True
        node = block
    return False
