"""LR schedules: the Keras schedule at step t equals the lr that torch's optimizer uses at t."""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import math  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402
from torch.optim import lr_scheduler as sched  # noqa: E402

from torch2tf.keras_helpers import training as kt  # noqa: E402
from torch2tf.training import convert_lr_scheduler, convert_optimizer  # noqa: E402

LRS = [0.1, 0.037]  # two param groups with different learning rates


def _optimizer(kind="sgd"):
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in LRS]
    if kind == "adam":
        return torch.optim.Adam(groups)
    return torch.optim.SGD(groups, momentum=0.9)


def _torch_values(optimizer, scheduler, steps, key="lr"):
    """The value each group uses at each optimizer step, stepping the scheduler after each."""
    values = []
    for _ in range(steps):
        row = []
        for group in optimizer.param_groups:
            row.append(group["betas"][0] if key == "betas" else group[key])
        values.append(row)
        optimizer.step()
        if len(values) < steps:  # OneCycleLR raises when stepped past total_steps
            scheduler.step()
    return np.array(values)


def _keras_values(schedule, steps):
    return np.array([float(schedule(tf.constant(t, tf.int64))) for t in range(steps)])


SCHEDULERS = [
    ("step", lambda o: sched.StepLR(o, step_size=3, gamma=0.3), 20),
    ("multistep", lambda o: sched.MultiStepLR(o, milestones=[2, 5, 5, 11], gamma=0.5), 20),
    ("exponential", lambda o: sched.ExponentialLR(o, gamma=0.93), 60),
    ("cosine", lambda o: sched.CosineAnnealingLR(o, T_max=7, eta_min=0.001), 40),
    ("cosine-long", lambda o: sched.CosineAnnealingLR(o, T_max=400), 1300),
    ("linear-warmup", lambda o: sched.LinearLR(o, start_factor=0.1, total_iters=6), 12),
    (
        "linear-decay",
        lambda o: sched.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=9),
        14,
    ),
    ("onecycle", lambda o: sched.OneCycleLR(o, max_lr=[0.5, 0.2], total_steps=30), 31),
    (
        "onecycle-linear-3phase",
        lambda o: sched.OneCycleLR(
            o,
            max_lr=0.4,
            total_steps=25,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
            div_factor=10.0,
            final_div_factor=100.0,
        ),
        26,
    ),
    (
        "sequential-warmup-cosine",
        lambda o: sched.SequentialLR(
            o,
            [sched.LinearLR(o, start_factor=0.2, total_iters=4), sched.CosineAnnealingLR(o, 10)],
            milestones=[4],
        ),
        30,
    ),
    (
        "sequential-three",
        lambda o: sched.SequentialLR(
            o,
            [
                sched.ExponentialLR(o, gamma=0.9),
                sched.StepLR(o, step_size=2, gamma=0.5),
                sched.MultiStepLR(o, milestones=[1, 3]),
            ],
            milestones=[3, 8],
        ),
        14,
    ),
    (
        "sequential-onecycle",
        lambda o: sched.SequentialLR(
            o,
            [
                sched.OneCycleLR(o, max_lr=0.3, total_steps=10, cycle_momentum=False),
                sched.ExponentialLR(o, gamma=0.8),
            ],
            milestones=[10],
        ),
        16,
    ),
]


@pytest.mark.parametrize(
    ("make", "steps"), [c[1:] for c in SCHEDULERS], ids=[c[0] for c in SCHEDULERS]
)
def test_schedule_matches_torch_per_batch(make, steps):
    optimizer = _optimizer()
    scheduler = make(optimizer)
    schedules = [convert_lr_scheduler(scheduler, group=g) for g in range(len(LRS))]
    expected = _torch_values(optimizer, scheduler, steps)
    for g, schedule in enumerate(schedules):
        got = _keras_values(schedule, steps)
        np.testing.assert_allclose(got, expected[:, g], rtol=1e-11, atol=1e-16)


@pytest.mark.parametrize(
    ("make", "steps"), [c[1:] for c in SCHEDULERS[:4]], ids=[c[0] for c in SCHEDULERS[:4]]
)
def test_schedule_matches_torch_per_epoch(make, steps):
    """steps_per_epoch=k: torch steps the scheduler every k batches; Keras counts batches."""
    k = 4
    optimizer = _optimizer()
    scheduler = make(optimizer)
    schedule = convert_lr_scheduler(scheduler, steps_per_epoch=k)
    per_epoch = _torch_values(optimizer, scheduler, steps)[:, 0]
    got = _keras_values(schedule, steps * k)
    np.testing.assert_allclose(got, np.repeat(per_epoch, k), rtol=1e-11, atol=1e-16)


def test_cosine_is_periodic_past_t_max():
    """torch's recursive CosineAnnealingLR rises again after T_max; Keras's CosineDecay does not."""
    optimizer = _optimizer()
    scheduler = sched.CosineAnnealingLR(optimizer, T_max=5)
    expected = _torch_values(optimizer, scheduler, 16)[:, 0]
    assert expected[10] == pytest.approx(LRS[0])  # back at the top after 2 * T_max
    np.testing.assert_allclose(_keras_values(kt.TorchCosineAnnealingLR(0.1, 5), 16), expected)
    keras = _keras_values(tf.keras.optimizers.schedules.CosineDecay(0.1, 5), 16)
    assert abs(keras[10] - expected[10]) > 0.09


def test_keras_builtins_are_float32():
    """Keras's ExponentialDecay matches torch only to float32 precision; the helper to float64."""
    optimizer = _optimizer()
    scheduler = sched.ExponentialLR(optimizer, gamma=0.93)
    expected = _torch_values(optimizer, scheduler, 30)[:, 0]
    builtin = tf.keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.93)
    assert np.max(np.abs(_keras_values(builtin, 30) / expected - 1)) > 1e-9
    np.testing.assert_allclose(_keras_values(kt.TorchExponentialLR(0.1, 0.93), 30), expected, 1e-13)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_momentum_curve(kind, three_phase):
    optimizer = _optimizer(kind)
    scheduler = sched.OneCycleLR(
        optimizer, max_lr=0.2, total_steps=20, three_phase=three_phase, base_momentum=0.8
    )
    keras_opt = convert_optimizer(
        optimizer,
        scheduler,
        parameters={g["params"][0]: tf.Variable([0.0]) for g in optimizer.param_groups},
    )
    key = "betas" if kind == "adam" else "momentum"
    expected = _torch_values(optimizer, scheduler, 21, key=key)
    inner = keras_opt.optimizers[0]
    momentum = inner.beta_1 if kind == "adam" else inner.momentum
    np.testing.assert_allclose(_keras_values(momentum, 21), expected[:, 0], rtol=1e-12)


def test_one_cycle_refuses_steps_past_the_end_like_torch():
    optimizer = _optimizer()
    scheduler = sched.OneCycleLR(optimizer, max_lr=0.2, total_steps=5)
    schedule = convert_lr_scheduler(scheduler)
    _torch_values(optimizer, scheduler, 5)
    scheduler.step()  # to step 5: the lr after the last of the 5 steps
    with pytest.raises(ValueError, match="Tried to step 6 times"):
        scheduler.step()
    float(schedule(tf.constant(5, tf.int64)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="past total_steps"):
        schedule(tf.constant(6, tf.int64))


def test_refusals():
    optimizer = _optimizer()
    with pytest.raises(TypeError, match=r"received: lr_scheduler\.CyclicLR"):
        convert_lr_scheduler(sched.CyclicLR(optimizer, 0.01, 0.1))
    optimizer = _optimizer()
    nested = sched.SequentialLR(
        optimizer,
        [
            sched.OneCycleLR(optimizer, max_lr=0.3, total_steps=10),
            sched.ExponentialLR(optimizer, gamma=0.8),
        ],
        milestones=[10],
    )
    with pytest.raises(ValueError, match=r"OneCycleLR\(cycle_momentum=True\) inside SequentialLR"):
        convert_optimizer(optimizer, nested, parameters={})
    optimizer = _optimizer()
    stepped = sched.StepLR(optimizer, 2)
    optimizer.step()
    stepped.step()
    with pytest.raises(ValueError, match="last_epoch=1"):
        convert_lr_scheduler(stepped)
    with pytest.raises(ValueError, match="built on the given optimizer"):
        convert_optimizer(_optimizer(), sched.StepLR(_optimizer(), 2), parameters={})


def test_config_round_trip():
    custom = {name: getattr(kt, name) for name in dir(kt) if name.startswith(("Torch", "Per"))}
    for schedule in [
        kt.TorchStepLR(0.1, 3, 0.5),
        kt.TorchMultiStepLR(0.1, [3, 1], 0.5),
        kt.TorchCosineAnnealingLR(0.1, 7, 0.01),
        kt.TorchLinearLR(0.1, 0.2, 1.0, 5),
        kt.PerEpochSchedule(kt.TorchOneCycleLR(0.3, 40, three_phase=True), 3),
        kt.TorchSequentialLR([kt.TorchLinearLR(0.1), kt.TorchExponentialLR(0.1, 0.9)], [5]),
    ]:
        serialized = tf.keras.optimizers.schedules.serialize(schedule)
        clone = tf.keras.optimizers.schedules.deserialize(serialized, custom_objects=custom)
        assert clone.get_config() == schedule.get_config()
        steps = [0, 1, 4, 5, 6, 20]
        assert _keras_values_at(clone, steps) == _keras_values_at(schedule, steps)
    assert math.isclose(kt.TorchMultiStepLR(0.1, [3, 1], 0.5)(2), 0.05)


def _keras_values_at(schedule, steps):
    return [float(schedule(tf.constant(t, tf.int64))) for t in steps]
