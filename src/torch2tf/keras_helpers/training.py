"""Torch-exact losses, optimizers and learning-rate schedules for tf.keras, as one namespace for
the live converters (:mod:`torch2tf.training`); the helpers live in ``losses.py``,
``optimizers.py``, ``param_groups.py`` and ``schedules.py``.

Each top-level definition there is self-contained (TensorFlow and ``math`` only), so the
translator can copy it verbatim into generated code. Everything computes in the dtype of the
tensors it is given: Keras casts losses to ``floatx`` and Python hyper-parameters through float32,
which breaks float64 parity with torch, so hyper-parameters become tensors of the variable's dtype
directly and schedules return float64.
"""

from torch2tf.keras_helpers.losses import (  # noqa: F401
    TorchBCELoss,
    TorchBCEWithLogitsLoss,
    TorchCrossEntropyLoss,
    TorchHuberLoss,
    TorchKLDivLoss,
    TorchL1Loss,
    TorchMSELoss,
    TorchNLLLoss,
    TorchSmoothL1Loss,
)
from torch2tf.keras_helpers.optimizers import (  # noqa: F401
    TorchAdagrad,
    TorchAdam,
    TorchRMSprop,
    TorchSGD,
)
from torch2tf.keras_helpers.param_groups import (  # noqa: F401
    TorchParamGroups,
)
from torch2tf.keras_helpers.schedules import (  # noqa: F401
    PerEpochSchedule,
    TorchCosineAnnealingLR,
    TorchExponentialLR,
    TorchLinearLR,
    TorchMultiStepLR,
    TorchOneCycleLR,
    TorchSequentialLR,
    TorchStepLR,
)
