"""Tensor facts, first version: which tensors of ``forward()`` are channels-last feature maps.

The generated Keras model is channels-last: where torch holds (N, C, *spatial), Keras holds
(N, *spatial, C). This pass walks ``forward()`` of each ``nn.Module`` class on Python's ``ast``
(statements in order, plain assignments, calls of ``self.<layer>``, ``F.*``, ``torch.*`` and tensor
methods) and gives each local name a :class:`Fact`. From the facts it derives what the rewrite
needs: dims to move to their channels-last axis, layers to build channels-last (BatchNorm1d),
and the ``Linear`` layers fed a flattened map, whose kernel rows conversion permutes from torch's
(C, *spatial) order to Keras's (*spatial, C). A map reaching anything the pass does not model is
reported at its position: it never guesses.
"""

from torch2tf.tensor_facts.analysis import analyse
from torch2tf.tensor_facts.records import (
    FLAT,
    MAP,
    MAPS,
    PLAIN,
    PLAIN_FACT,
    SCALAR,
    SCALAR_FACT,
    TUPLE,
    UNKNOWN,
    UNKNOWN_FACT,
    ArgRewrite,
    ClassFacts,
    Fact,
    FlattenedRows,
    Key,
)
from torch2tf.tensor_facts.syntax import key_of
from torch2tf.tensor_facts.tables import CHANNELS_LAST_LAYERS, MAP_FUNCTIONS

__all__ = [
    "ArgRewrite",
    "CHANNELS_LAST_LAYERS",
    "ClassFacts",
    "FLAT",
    "Fact",
    "FlattenedRows",
    "Key",
    "MAP",
    "MAPS",
    "MAP_FUNCTIONS",
    "PLAIN",
    "PLAIN_FACT",
    "SCALAR",
    "SCALAR_FACT",
    "TUPLE",
    "UNKNOWN",
    "UNKNOWN_FACT",
    "analyse",
    "key_of",
]
