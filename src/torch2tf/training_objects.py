"""The one table of torch training objects torch2tf converts, and the Keras helper of each.

Read by both conversions, so they cannot drift apart: the rules that translate source
(:mod:`torch2tf.rules.training`, checked in scripts by :mod:`torch2tf.training_script`) and the
converters of live objects (:mod:`torch2tf.training`). The helpers are the torch-exact classes
of ``keras_helpers`` (losses, optimizers, schedules). Plain strings: importing this needs
neither torch nor TF.
"""

from __future__ import annotations

OPTIMIZERS: dict[str, str] = {
    "torch.optim.SGD": "TorchSGD",
    "torch.optim.Adam": "TorchAdam",
    "torch.optim.AdamW": "TorchAdam",  # with decoupled_weight_decay=True
    "torch.optim.RMSprop": "TorchRMSprop",
    "torch.optim.Adagrad": "TorchAdagrad",
}
LOSSES: dict[str, str] = {
    "torch.nn.CrossEntropyLoss": "TorchCrossEntropyLoss",
    "torch.nn.NLLLoss": "TorchNLLLoss",
    "torch.nn.BCELoss": "TorchBCELoss",
    "torch.nn.BCEWithLogitsLoss": "TorchBCEWithLogitsLoss",
    "torch.nn.MSELoss": "TorchMSELoss",
    "torch.nn.L1Loss": "TorchL1Loss",
    "torch.nn.SmoothL1Loss": "TorchSmoothL1Loss",
    "torch.nn.HuberLoss": "TorchHuberLoss",
    "torch.nn.KLDivLoss": "TorchKLDivLoss",
}
SCHEDULERS: dict[str, str] = {
    "torch.optim.lr_scheduler.StepLR": "TorchStepLR",
    "torch.optim.lr_scheduler.MultiStepLR": "TorchMultiStepLR",
    "torch.optim.lr_scheduler.ExponentialLR": "TorchExponentialLR",
    "torch.optim.lr_scheduler.CosineAnnealingLR": "TorchCosineAnnealingLR",
    "torch.optim.lr_scheduler.LinearLR": "TorchLinearLR",
    "torch.optim.lr_scheduler.OneCycleLR": "TorchOneCycleLR",
    "torch.optim.lr_scheduler.SequentialLR": "TorchSequentialLR",  # of the schedulers above
}
SEQUENTIAL_LR = "torch.optim.lr_scheduler.SequentialLR"
