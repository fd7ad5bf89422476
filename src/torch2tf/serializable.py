"""Make generated Keras classes serializable, so ``keras.models.load_model`` can rebuild them,
and name their layers after the torch attributes.

Every translated class is registered with Keras under its module's name, and keeps the
arguments it was constructed with for ``get_config``: loading a ``.keras`` file calls the
constructor again with them, then reads the weights. Only the generated module and TensorFlow
are needed to load. An argument that is a class or a function (``block=BasicBlock``) is saved by
the name Keras registered it under (generated classes and layer factories are registered), and
layers passed in are rebuilt from their configs (helpers ``config_from_arguments`` and
``arguments_from_config``). A constructor taking ``*args`` cannot be rebuilt from keywords, so
such a class gets no ``get_config`` (Keras then refuses to save it, saying why).

A layer of a private class (torch's ``_NLinear``) drops the leading "_" of the name Keras gives
it (``_n_linear``): TensorFlow refuses such a name scope when Keras traces the layer to build
it, and Keras then leaves the scope it pushed on its stack, so every model built afterwards in
the process names its weights under it (see :func:`public_name`).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import libcst as cst

from torch2tf.names import is_docstring

ARGUMENTS = "init_arguments"


def named_layer(
    layer: cst.BaseExpression, name: str, helpers: dict[str, str]
) -> cst.BaseExpression:
    """``name="fc1"`` on the Keras layer built for ``self.fc1 = nn.Linear(...)``, so that
    ``summary()`` and the weights file read like the torch model. Only Keras's own layers and
    helpers passing ``**kwargs`` on take a name; each branch of a layer chosen at run time
    (``DepthwiseConv2D(...) if groups == c else Conv2D(...)``)."""
    if isinstance(layer, cst.IfExp):
        return layer.with_changes(
            body=named_layer(layer.body, name, helpers),
            orelse=named_layer(layer.orelse, name, helpers),
        )
    if not isinstance(layer, cst.Call) or any(
        a.keyword and a.keyword.value == "name" for a in layer.args
    ):
        return layer
    func = cst.Module([]).code_for_node(layer.func)
    if not (
        func.startswith("tf.keras.layers.")
        or func == "tf.keras.Sequential"
        or _passes_kwargs(helpers.get(func))
    ):
        return layer
    argument = cst.Arg(cst.SimpleString(repr(name)), keyword=cst.Name("name"))
    return layer.with_changes(args=[*layer.args, argument])


def _passes_kwargs(helper: str | None) -> bool:
    """A helper class whose ``__init__`` takes ``**kwargs`` (and hands them to Keras)."""
    if helper is None:
        return False
    tree = ast.parse(helper).body[-1]
    return isinstance(tree, ast.ClassDef) and any(
        isinstance(f, ast.FunctionDef)
        and f.name == "__init__"
        and f.args.kwarg is not None
        and f.args.kwarg.arg == "kwargs"
        for f in tree.body
    )


def package_name(module_name: str | None, path: str) -> str:
    """The Keras registration package: the generated module's name."""
    name = module_name or Path(path).stem
    return re.sub(r"[^\w.]", "_", name).strip("_") or "generated"


def register(cls: cst.ClassDef, package: str, derived: bool = False) -> cst.ClassDef:
    """``@register_keras_serializable`` on the class, and ``get_config`` when its ``__init__``
    records its arguments (see :func:`record_arguments`); ``derived``: a base class's call
    takes several inputs (see :func:`_build_of_several_inputs`)."""
    decorator = cst.Decorator(
        cst.parse_expression(f"tf.keras.utils.register_keras_serializable(package={package!r})")
    )
    body = list(cls.body.body)
    init = next(
        (s for s in body if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"), None
    )
    if init is not None and _records(init):
        # Classes and functions among the arguments (block=BasicBlock) are saved by their
        # registered names, and layers rebuilt from their configs, by the two helpers.
        methods = cst.parse_module(
            "def get_config(self):\n"
            '    """The constructor\'s arguments: load_model rebuilds the model from them."""\n'
            f"    return config_from_arguments(self.{ARGUMENTS})\n"
            "\n"
            "@classmethod\n"
            "def from_config(cls, config):\n"
            '    """The model get_config describes (its classes and layers rebuilt)."""\n'
            "    return cls(**arguments_from_config(config))\n"
        ).body
        at = body.index(init) + 1
        body[at:at] = [m.with_changes(leading_lines=[cst.EmptyLine()]) for m in methods]
    elif init is not None and _takes_nothing(init.params):
        get_config = cst.parse_statement(
            "def get_config(self):\n"
            '    """The constructor\'s arguments: load_model rebuilds the model from them."""\n'
            "    return {}\n"
        )
        at = body.index(init) + 1
        body.insert(at, get_config.with_changes(leading_lines=[cst.EmptyLine()]))
        if any(cst.Module([]).code_for_node(b.value) == "tf.keras.Sequential" for b in cls.bases):
            from_config = cst.parse_statement(  # Keras's Sequential reads a list of layers
                "@classmethod\ndef from_config(cls, config):\n    return cls(**config)\n"
            )
            body.insert(at + 1, from_config.with_changes(leading_lines=[cst.EmptyLine()]))
    build = _build_of_several_inputs(body, derived)
    if build is not None:
        call = next(s for s in body if isinstance(s, cst.FunctionDef) and s.name.value == "call")
        body.insert(body.index(call), build.with_changes(leading_lines=[cst.EmptyLine()]))
    return cls.with_changes(
        decorators=[*cls.decorators, decorator], body=cls.body.with_changes(body=body)
    )


def _build_of_several_inputs(
    body: list[cst.BaseStatement], derived: bool = False
) -> cst.FunctionDef | None:
    """``build(self, ids_shape=None, features_shape=None)`` for a ``call`` of several inputs:
    Keras saves the shapes a ``build`` receives for ``load_model``, which without one keeps
    only the first input's and so cannot rebuild the model (``build_from_shapes`` builds it
    from them all). A class whose base's call takes several inputs gets one for a single
    input too: the base's ``build`` names other inputs than its own call's."""
    methods = {s.name.value: s for s in body if isinstance(s, cst.FunctionDef)}
    call = methods.get("call")
    if call is None or "build" in methods or isinstance(call.params.star_arg, cst.Param):
        return None
    params = [
        p
        for p in [*call.params.posonly_params, *call.params.params, *call.params.kwonly_params][1:]
        if p.name.value != "training"
    ]
    if len(params) < (1 if derived else 2):
        return None
    # Every shape optional: Keras passes those of the tensors a call received, no others.
    signature = ", ".join(f"{p.name.value}_shape=None" for p in params)
    arguments = ", ".join(f"{p.name.value}={p.name.value}_shape" for p in params)
    return cst.parse_statement(
        f"def build(self, {signature}):\n"
        '    """Keras saves these shapes for load_model, which builds the model from them."""\n'
        f"    build_from_shapes(self, {arguments})\n"
    )


def record_arguments(init: cst.FunctionDef) -> cst.FunctionDef:
    """``self.init_arguments = {...}`` right after ``super().__init__()``, before the
    constructor changes any argument. Nothing for ``*args`` or without a super call."""
    params = init.params
    if isinstance(params.star_arg, cst.Param):
        return init
    names = _parameters(params)
    if not names and params.star_kwarg is None:
        return init  # nothing to record: get_config returns {}
    items = ", ".join(f"{n!r}: {n}" for n in names)
    if params.star_kwarg is not None:
        items = (
            f"{items}, **{params.star_kwarg.name.value}"
            if items
            else (f"**{params.star_kwarg.name.value}")
        )
    body = list(init.body.body)
    for index, stmt in enumerate(body):
        if _is_super_init(stmt):
            record = cst.parse_statement(f"self.{ARGUMENTS} = {{{items}}}\n")
            body.insert(index + 1, record)
            return init.with_changes(body=init.body.with_changes(body=body))
    return init


def public_name(init: cst.FunctionDef) -> cst.FunctionDef:
    """``self.name = self.name.lstrip("_")`` right after ``super().__init__()``: Keras names a
    layer after its class (``_Periodic`` -> ``__periodic``, numbered), a name scope TensorFlow
    refuses. Put in a private class's ``__init__`` (or in that of the base it inherits its
    ``__init__`` from): the class and attribute names stay torch's, and a layer of a public
    class keeps its Keras name. Nothing without a super call."""
    body = list(init.body.body)
    for index, stmt in enumerate(body):
        if _is_super_init(stmt):
            rename = cst.parse_statement('self.name = self.name.lstrip("_")\n')
            comment = '# the name Keras gave it, less the "_" TensorFlow refuses in name scopes'
            rename = rename.with_changes(
                leading_lines=[cst.EmptyLine(comment=cst.Comment(comment), indent=True)]
            )
            body.insert(index + 1, rename)
            return init.with_changes(body=init.body.with_changes(body=body))
    return init


def with_public_name(cls: cst.ClassDef, forwarding: bool = False) -> cst.ClassDef:
    """An ``__init__`` doing only :func:`public_name`'s rename, for a class with no
    ``__init__`` of its own: taking nothing, as torch's, for a subclass of ``nn.Module``;
    ``forwarding`` everything to a base of another file (whose ``get_config`` it inherits).
    Its docstring stays first."""
    if not isinstance(cls.body, cst.IndentedBlock):
        return cls  # class _X(nn.Module): pass
    arguments = "*args, **kwargs" if forwarding else ""
    init = cst.parse_statement(
        f"def __init__(self{', ' if arguments else ''}{arguments}):\n"
        f"    super().__init__({arguments})\n"
    )
    assert isinstance(init, cst.FunctionDef)
    body = list(cls.body.body)
    at = 1 if body and is_docstring(body[0]) else 0
    body.insert(at, public_name(init).with_changes(leading_lines=[]))
    if at < len(body) - 1:
        body[at + 1] = body[at + 1].with_changes(leading_lines=[cst.EmptyLine()])
    return cls.with_changes(body=cls.body.with_changes(body=body))


def _parameters(params: cst.Parameters) -> list[str]:
    """The names of the constructor's parameters after ``self`` (not ``*args``/``**kwargs``)."""
    names = [p.name.value for p in [*params.posonly_params, *params.params][1:]]
    return names + [p.name.value for p in params.kwonly_params]


def _takes_nothing(params: cst.Parameters) -> bool:
    return (
        not _parameters(params)
        and not isinstance(params.star_arg, cst.Param)
        and (params.star_kwarg is None)
    )


def _records(init: cst.FunctionDef) -> bool:
    return any(
        isinstance(stmt, cst.SimpleStatementLine)
        and isinstance(stmt.body[0], cst.Assign)
        and cst.Module([]).code_for_node(stmt.body[0].targets[0].target) == f"self.{ARGUMENTS}"
        for stmt in init.body.body
    )


def _is_super_init(stmt: cst.BaseStatement) -> bool:
    if not (isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Expr)):
        return False
    call = stmt.body[0].value
    return (
        isinstance(call, cst.Call)
        and isinstance(call.func, cst.Attribute)
        and call.func.attr.value == "__init__"
        and isinstance(call.func.value, cst.Call)
        and isinstance(call.func.value.func, cst.Name)
        and call.func.value.func.value == "super"
    )
