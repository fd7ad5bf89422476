"""Process-wide state a conversion has to touch, put back as it was (issue 10: no library
call leaves the process changed)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import tensorflow as tf
from keras.src.backend.common import global_state  # Keras's stack of name scopes lives here


@contextlib.contextmanager
def global_state_kept() -> Iterator[None]:
    """Building Keras layers draws seeds from Python's and NumPy's global generators (the
    weights are torch's anyway), and a Keras layer named with a leading "_" (torch's private
    classes: `_NLinear`) leaves a name scope on Keras's stack when Keras traces it to build it
    (TensorFlow refuses the name after Keras pushed it): both are put back as they were. (The
    generated classes drop that "_" themselves, serializable.public_name, but only after their
    base's __init__: a base of another file that builds the layer there still traces it.)"""
    python, numpy = random.getstate(), np.random.get_state()
    scopes = list(global_state.get_global_attribute("name_scope_stack") or [])
    try:
        yield
    finally:
        random.setstate(python)
        np.random.set_state(numpy)
        global_state.set_global_attribute("name_scope_stack", scopes)


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Layers created inside take ``name`` as their variable and compute dtype."""
    old = tf.keras.config.dtype_policy()
    tf.keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        tf.keras.config.set_dtype_policy(old)
