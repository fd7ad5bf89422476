"""Helpers of class analysis: methods depending on training, Keras attributes a project
base class renames, an init call's statement removed or replaced by its init code's asserts."""

from __future__ import annotations

from typing import Any

import libcst as cst

from torch2tf.class_facts import ClassInfo
from torch2tf.keras_api import KERAS_MODEL_ATTRIBUTES
from torch2tf.names import ImportTable, dotted
from torch2tf.rules import LAYERS
from torch2tf.tensor_facts.project import project_class_node
from torch2tf.translation.patterns import UNTRANSLATED_MODULE_API, self_attr
from torch2tf.translation.scans import assigned_self_attributes


def renamed_by_bases(node: cst.ClassDef, classes: dict[str, ClassInfo], imports: ImportTable):
    """The Keras model attributes the project base classes of ``node`` assign (renamed there,
    ``self.layers`` -> ``self.layers_``, so here too)."""
    found: set[str] = set()
    for base in node.bases:
        name = dotted(base.value)
        if name in classes and classes[name].node is not node:
            found |= classes[name].renamed
            continue
        tree = project_class_node(imports.qualify(base.value))
        if tree is not None:
            found |= assigned_self_attributes(tree) & KERAS_MODEL_ATTRIBUTES
    return found


def removed_or_asserts(info: ClassInfo, reader: Any, stmt: cst.CSTNode) -> None:
    """An init call of __init__ whose effect became initializers: removed, or replaced by
    the asserts of the init functions it ran (kept where torch runs them)."""
    if reader.asserts:
        info.replaced[stmt] = "".join(f"{line}\n" for line in reader.asserts)
        reader.asserts.clear()
    else:
        info.removed.add(stmt)


def training_methods(info: ClassInfo) -> set[str]:
    """Methods other than forward whose result depends on training: they call a layer or
    module that does, use ``self.training``, or call such a method (forward_actor)."""
    methods = {
        s.name.value: s
        for s in info.node.body.body
        if isinstance(s, cst.FunctionDef) and s.name.value not in ("__init__", "forward")
    }
    methods = {k: v for k, v in methods.items() if k not in info.init_methods}
    depends: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, func in methods.items():
            if name not in depends and _uses_training(info, func, depends):
                depends.add(name)
                changed = True
    return depends


def _uses_training(info: ClassInfo, func: cst.FunctionDef, depends: set[str]) -> bool:
    found = False

    class Uses(cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> None:
            nonlocal found
            found |= dotted(node) == "self.training"

        def visit_Call(self, node: cst.Call) -> None:
            nonlocal found
            attr = self_attr(node.func)
            if attr is None:
                return
            if attr in info.layers:
                found |= LAYERS[info.layers[attr]].takes_training
            else:
                found |= attr in info.modules or attr in depends
                found |= info.method(attr) is None and attr not in UNTRANSLATED_MODULE_API

    func.body.visit(Uses())
    return found
