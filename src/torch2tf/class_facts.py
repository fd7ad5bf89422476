"""What the engine knows of one ``nn.Module`` class: its layers, init code and build input.

Filled by the engine's analysis of the class (translation/class_analysis.py, initializers.py),
read by its rewrite.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import libcst as cst


@dataclass(frozen=True)
class InitStep:
    """One effect of init code, applied where the tensors it reaches are created.

    scope: ``all`` (every layer of type ``key`` built in __init__: ``self.modules()``,
    ``apply``), ``children`` (direct ``self.x = Layer()`` of type ``key``), ``attr`` (the layer
    ``self.key``), ``param`` (the ``nn.Parameter`` ``self.key``), ``calls`` (the layer
    constructions in ``calls``, of type ``key`` or any when ``key`` is ``*``).
    """

    position: int  # the statement of __init__ that runs it
    scope: str
    key: str
    params: dict[str, str]
    calls: frozenset[cst.Call] = field(default=frozenset())

    def reaches(self, call: cst.Call, qualified: str, attr: str | None, direct: bool) -> bool:
        """Whether this step initialises the layer that ``call`` (of type ``qualified``) makes."""
        if self.scope == "attr":
            return self.key == attr
        if self.scope == "all":
            return self.key == qualified
        if self.scope == "children":
            return self.key == qualified and direct
        if self.scope == "calls":
            return call in self.calls and self.key in ("*", qualified)
        return False


@dataclass
class ClassInfo:
    """What the rewrite of one ``nn.Module`` class needs to know about it."""

    node: cst.ClassDef
    tree: ast.ClassDef  # the same class in Python's ast, for fast scans
    layers: dict[str, str] = field(default_factory=dict)  # attribute -> torch layer name
    modules: dict[str, str] = field(default_factory=dict)  # attribute -> class in this file
    direct_calls: set[cst.Call] = field(default_factory=set)  # ``self.x = Layer(...)``
    call_attr: dict[cst.Call, str] = field(default_factory=dict)
    init_methods: set[str] = field(default_factory=set)
    init_steps: list[InitStep] = field(default_factory=list)  # init code, in __init__ order
    # nn.Parameter attributes -> (statement of __init__ creating it, the Parameter call)
    params: dict[str, tuple[int, cst.Call]] = field(default_factory=dict)
    registered: dict[cst.SimpleStatementLine, str] = field(default_factory=dict)
    call_position: dict[cst.Call, int] = field(default_factory=dict)  # layer call -> statement
    opaque_builders: list[cst.Call] = field(default_factory=list)  # self.x = factory(...)
    removed: set[cst.CSTNode] = field(default_factory=set)
    replaced: dict[cst.CSTNode, str] = field(default_factory=dict)  # init loops run on Keras
    notes: dict[cst.CSTNode, str] = field(default_factory=dict)  # a replaced one's comment
    init_note: str = ""
    # parameters whose default init function became initializers -> that default (a lambda)
    fixed_defaults: dict[str, cst.CSTNode] = field(default_factory=dict)
    build_input: str | None = None
    renamed: set[str] = field(default_factory=set)  # attributes Keras reserves: name -> name_
    # nn.Module API names the class assigns (``self.parameters = []``): plain attributes there
    shadowed: set[str] = field(default_factory=set)
    # ... of those, the ones also assigned a torch module, which torch registers, so that the
    # name reads as the method again afterwards (``self.parameters = nn.ParameterList(...)``)
    shadowed_by_module: set[str] = field(default_factory=set)
    training: set[str] = field(default_factory=set)  # methods besides forward taking training
    functions: set[str] = field(default_factory=set)  # attributes only ever a plain function
    # weight-normalised layer attributes -> (the weight_norm call, its statement of __init__)
    wrapped: dict[str, tuple[cst.Call, int]] = field(default_factory=dict)
    wrapped_g: dict[str, str] = field(default_factory=dict)  # -> its g's initializer source
    local_params: dict[str, str] = field(default_factory=dict)  # local tensor -> parameter
    param_sources: dict[cst.Call, cst.Call] = field(default_factory=dict)  # Parameter -> maker

    def method(self, name: str) -> cst.FunctionDef | None:
        """The method ``name`` as Python binds it: the last ``def`` of that name."""
        found = None
        for stmt in self.node.body.body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
                found = stmt
        return found
