"""A parameter made from a local tensor: ``w = torch.zeros(o, i)``, init code on ``w`` (often
through a method: ``self.init_(w, b, c=c)``), then ``self.weight = nn.Parameter(w)``. The
parameter is read as created where ``w`` is, with ``w``'s shape, and init code on ``w`` as
init code on ``self.weight``."""

from __future__ import annotations

import libcst as cst

from torch2tf.class_facts import ClassInfo
from torch2tf.names import ImportTable, dotted


def _tensor_call(value: cst.BaseExpression, imports: ImportTable) -> cst.Call | None:
    """The torch call of ``torch.zeros(...)`` or ``torch.zeros(...) if flag else None``."""
    if isinstance(value, cst.IfExp):
        for made, other in ((value.body, value.orelse), (value.orelse, value.body)):
            if dotted(other) == "None":
                return _tensor_call(made, imports)
        return None
    if isinstance(value, cst.Call) and (imports.qualify(value.func) or "").startswith("torch."):
        return value
    return None


def local_parameters(info: ClassInfo, init: cst.FunctionDef, imports: ImportTable) -> None:
    """Fill ``info.local_params`` and ``info.param_sources``; move each such parameter's
    creation (``info.params``) to the local's statement."""
    made: dict[str, tuple[cst.Call, int]] = {}
    counts: dict[str, int] = {}
    for position, stmt in enumerate(init.body.body):
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if not isinstance(small, cst.Assign) or len(small.targets) != 1:
                continue
            target = small.targets[0].target
            if not isinstance(target, cst.Name):
                continue
            counts[target.value] = counts.get(target.value, 0) + 1
            call = _tensor_call(small.value, imports)
            if call is not None:
                made[target.value] = (call, position)
    for attr, (_, parameter) in list(info.params.items()):
        args = [a for a in parameter.args if a.keyword is None or a.keyword.value == "data"]
        name = args[0].value if len(args) == 1 else None
        if not isinstance(name, cst.Name) or name.value not in made:
            continue
        if counts.get(name.value) != 1 or name.value in info.local_params:
            continue
        call, position = made[name.value]
        info.local_params[name.value] = attr
        info.param_sources[parameter] = call
        info.params[attr] = (position, parameter)


def _uses(node: cst.CSTNode, name: str, skip: cst.CSTNode | None = None) -> bool:
    """Whether ``node`` reads the name ``name`` (outside ``skip``)."""
    found = False

    class Uses(cst.CSTVisitor):
        def on_visit(self, visited: cst.CSTNode) -> bool:
            nonlocal found
            if visited is skip:
                return False
            if isinstance(visited, cst.Attribute):  # self.w: an attribute, not the name w
                visited.value.visit(self)
                return False
            found |= isinstance(visited, cst.Name) and visited.value == name
            return not found

    node.visit(Uses())
    return found


def check_local_parameters(info: ClassInfo, init: cst.FunctionDef, error) -> None:
    """Every use of such a local besides its making and its Parameter must have been read as
    init code (else the parameter would miss what that statement does to the tensor)."""
    for name, attr in info.local_params.items():
        made_at, parameter = info.params[attr]
        statements = init.body.body
        if len(statements[made_at].body) == 1:  # the making is the parameter's now: left out
            info.removed.add(statements[made_at])
        for position, stmt in enumerate(statements):
            if position == made_at or stmt in info.removed:
                continue
            if _uses(stmt, name, skip=parameter):
                error(
                    stmt,
                    f"the local tensor {name} becomes self.{attr} = nn.Parameter({name}); this "
                    "statement uses it other than as init code, which is not translated",
                    f"initialise self.{attr} after making it the parameter",
                )
