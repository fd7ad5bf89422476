"""Init methods kept as methods of the Keras class, their init run on the Keras layers.

Two idioms of real models (timm's ResNet), where the init cannot become initializer arguments
of ``__init__``'s constructions:

- A method ``__init__`` calls (with arguments or not) whose loops over ``self.modules()``
  reach layers built outside ``__init__``: the method stays, each such loop translated as the
  loop over the Keras layers (init_code/runtime.py), the rest of it (``if zero_init_last:``)
  as any method's code; the call in ``__init__`` stays where torch makes it::

      def init_weights(self, zero_init_last=True):
          for n, m in self.named_modules():            for m in torch_modules(self):
              if isinstance(m, nn.Conv2d):       ->        if isinstance(m, (Conv2D, ...)):
                  nn.init.kaiming_normal_(m.weight)            torch_init(m, "kernel", ...)

- A method of init code that ``__init__`` does not call (``zero_init_last``, called from
  another class's init loop, or ``reset_parameters`` called by the user): kept as a method
  doing the same init on the Keras layers (``torch_init``: the initializer of a layer not
  built yet, new values for one that is)::

      def zero_init_last(self):
          if getattr(self.bn2, "weight", None) is not None:   if torch_has(self.bn2, "gamma"):
              nn.init.zeros_(self.bn2.weight)           ->        torch_init(self.bn2, "gamma", ...)

  The layer a tensor belongs to is read from ``__init__``, or, for a layer of a class passed
  in (``self.bn2 = norm_layer(c)``), from the live model being converted (every instance's).
"""

from __future__ import annotations

import libcst as cst

from torch2tf.init_code.base import ReaderBase, Refused, Scope
from torch2tf.init_code.runtime import RuntimeLoop, is_modules_loop
from torch2tf.names import dotted, is_docstring
from torch2tf.rules import LAYERS

NOTE_LATE = "# torch's init code, run on the Keras layers (before they are built, or anew)"


class MethodReader(ReaderBase):
    """Init methods translated as methods (see the module docstring)."""

    def runtime_method(self, func: cst.FunctionDef) -> bool:
        """Whether ``func`` (called from __init__) holds a loop over modules that runs on the
        Keras layers; if so its loops are translated so, and the method and call stay."""
        loops = [s for s in _statements(func.body.body) if is_modules_loop(s)]
        if not loops or not self._needs_runtime():
            return False
        self.runtime_methods.add(func.name.value)
        self._runtime_block([s for s in func.body.body if not is_docstring(s)])
        return True

    def _runtime_block(self, body) -> None:
        info = self.info
        for stmt in body:
            if is_modules_loop(stmt):
                facts = getattr(self.t, "facts", {})
                layers = {name: f.attribute_layers for name, f in facts.items()}
                loop = RuntimeLoop(self, set(self.t.classes), layers)
                first = not info.init_steps and not info.replaced
                try:
                    info.replaced[stmt] = loop.translate(stmt, first)
                except Refused:
                    info.removed.add(stmt)  # reported
            elif not self.is_init_code(stmt):
                continue  # any method's code: translated as such
            elif isinstance(stmt, cst.If) and not self.is_init_code(stmt.test):
                branch: cst.If | cst.Else | None = stmt
                while branch is not None:  # if zero_init_last: <loop>
                    self._runtime_block(branch.body.body)
                    branch = branch.orelse if isinstance(branch, cst.If) else None
            else:
                self.t.error(
                    stmt,
                    "init code beside a loop over modules run on the Keras layers is not "
                    "translated",
                    "initialise these layers in the loop, or where they are created",
                )
                info.removed.add(stmt)

    def late_method(self, func: cst.FunctionDef) -> None:
        """A method of init code not called from __init__: each statement replaced by its
        ``torch_init`` lines (see the module docstring)."""
        note = NOTE_LATE
        for stmt in (s for s in func.body.body if not is_docstring(s)):
            try:
                lines = self._late_statement(stmt)
            except Refused:
                self.info.removed.add(stmt)  # reported
                continue
            self.info.replaced[stmt] = "".join(line + "\n" for line in lines)
            self.info.notes[stmt], note = note, ""

    def _late_statement(self, stmt: cst.BaseStatement) -> list[str]:
        if isinstance(stmt, cst.If) and stmt.orelse is None:
            test = self._has_tensor(stmt.test)
            lines = [f"if {test}:"]
            for child in stmt.body.body:
                lines += ["    " + line for line in self._late_statement(child)]
            return lines
        small = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) else None
        call = small.value if isinstance(small, cst.Expr) and len(stmt.body) == 1 else None
        if not (isinstance(call, cst.Call) and self._is_init_call(call)):
            self._refuse(stmt, "unsupported statement in an init method")
        self._init_call(call, 0, Scope(late=True))
        if call not in self.late:
            self._refuse(call, "this init is not translated in a method run after __init__")
        return [self.late[call]]

    def _has_tensor(self, test: cst.BaseExpression) -> str:
        """``self.bn.weight is not None`` or ``getattr(self.bn, "weight", None) is not None``
        -> ``torch_has(self.bn, "gamma")``."""
        tensor = None
        if (
            isinstance(test, cst.Comparison)
            and len(test.comparisons) == 1
            and isinstance(test.comparisons[0].operator, cst.IsNot)
            and dotted(test.comparisons[0].comparator) == "None"
        ):
            tensor = test.left
        if isinstance(tensor, cst.Call) and dotted(tensor.func) == "getattr":
            args = tensor.args
            name = args[1].value if len(args) == 3 else None
            if isinstance(name, cst.SimpleString) and dotted(args[2].value) == "None":
                tensor = cst.Attribute(args[0].value, cst.Name(name.evaluated_value))
            else:
                tensor = None
        if not isinstance(tensor, cst.Attribute):
            self._refuse(test, "unsupported condition in an init method", "test `x is not None`")
        qualified = self._layer_type(test, tensor.value)
        weight = tensor.attr.value
        self._check_param(test, qualified, weight)
        variable = LAYERS[qualified].initializers[weight].removesuffix("_initializer")
        return f"torch_has({dotted(tensor.value)}, {variable!r})"


def _statements(body) -> list[cst.CSTNode]:
    """The statements of ``body`` and of the ``if``s in it."""
    found = []
    for stmt in body:
        found.append(stmt)
        branch = stmt if isinstance(stmt, cst.If) else None
        while branch is not None:
            found += _statements(branch.body.body)
            branch = branch.orelse if isinstance(branch, (cst.If, cst.Else)) else None
    return found
