"""torch2tf's Keras optimizers against torch.optim, step by step, on the same gradients."""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402
from torch.optim import lr_scheduler as sched  # noqa: E402

from torch2tf.keras_helpers import training as kt  # noqa: E402
from torch2tf.training import convert_loss, convert_optimizer  # noqa: E402

STEPS = 8
SHAPES = [(3, 4), (4,)]


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.normal(size=s) for s in SHAPES]
    slope = [rng.uniform(0.2, 2.0, size=s) for s in SHAPES]
    offsets = [[rng.normal(size=s) for s in SHAPES] for _ in range(STEPS)]
    return init, slope, offsets


def _gradient(slope, offset, value, scale):
    """A deterministic gradient that depends on the current parameter: s * (a * p + c_t)."""
    return scale * (slope * value + offset)


def _run_torch(make_optimizer, dtype, scale, *, scheduler=None, clip=None, skip=None, seed=0):
    init, slope, offsets = _problem(seed)
    params = [torch.nn.Parameter(torch.tensor(p, dtype=dtype)) for p in init]
    optimizer = make_optimizer(params)
    lr_sched = scheduler(optimizer) if scheduler else None
    trajectory = []
    for t in range(STEPS):
        for i, p in enumerate(params):
            if skip and (t, i) in skip:
                p.grad = None
            else:
                g = _gradient(slope[i], offsets[t][i], p.detach().double().numpy(), scale)
                p.grad = torch.tensor(g, dtype=dtype)
        if clip:
            torch.nn.utils.clip_grad_norm_(params, clip)
        optimizer.step()
        if lr_sched:
            lr_sched.step()
        trajectory.append([p.detach().double().numpy().copy() for p in params])
    return trajectory


def _run_keras(optimizer, dtype, scale, *, skip=None, seed=0, variables=None, compiled=False):
    init, slope, offsets = _problem(seed)
    if variables is None:
        variables = [tf.Variable(p.astype(dtype)) for p in init]

    def apply(grads):
        optimizer.apply(grads, variables)

    if compiled:
        apply = tf.function(apply)
    trajectory = []
    for t in range(STEPS):
        grads = []
        for i, v in enumerate(variables):
            if skip and (t, i) in skip:
                grads.append(None)
            else:
                g = _gradient(slope[i], offsets[t][i], v.numpy().astype(np.float64), scale)
                grads.append(tf.constant(g.astype(dtype)))
        apply(grads)
        trajectory.append([v.numpy().astype(np.float64).copy() for v in variables])
    return trajectory


def _relative_error(torch_traj, keras_traj, seed=0):
    """Max |difference| over the trajectory, divided by how far torch moved the parameters."""
    init, _, _ = _problem(seed)
    moved = max(np.max(np.abs(t - p0)) for t, p0 in zip(torch_traj[-1], init, strict=True))
    diff = max(
        np.max(np.abs(a - b))
        for ts, ks in zip(torch_traj, keras_traj, strict=True)
        for a, b in zip(ts, ks, strict=True)
    )
    return diff / moved


def _assert_close32(torch_traj, keras_traj):
    for ts, ks in zip(torch_traj, keras_traj, strict=True):
        for a, b in zip(ts, ks, strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


# (id, torch optimizer factory, matching torch2tf helper)
CASES = [
    ("sgd", lambda p: torch.optim.SGD(p, lr=0.1), lambda: kt.TorchSGD(0.1)),
    (
        "sgd-momentum",
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        lambda: kt.TorchSGD(0.1, momentum=0.9),
    ),
    (
        "sgd-dampening-wd",
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1),
        lambda: kt.TorchSGD(0.05, momentum=0.9, dampening=0.3, weight_decay=0.1),
    ),
    (
        "sgd-nesterov-maximize",
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True, maximize=True),
        lambda: kt.TorchSGD(0.05, momentum=0.8, nesterov=True, maximize=True),
    ),
    ("adam", lambda p: torch.optim.Adam(p, lr=0.01), lambda: kt.TorchAdam(0.01)),
    (
        "adam-amsgrad-l2",
        lambda p: torch.optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.1, betas=(0.8, 0.99)),
        lambda: kt.TorchAdam(0.01, beta_1=0.8, beta_2=0.99, amsgrad=True, weight_decay=0.1),
    ),
    (
        "adamw",
        lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=1e-6),
        lambda: kt.TorchAdam(0.01, epsilon=1e-6, weight_decay=0.1, decoupled_weight_decay=True),
    ),
    (
        "adam-maximize",
        lambda p: torch.optim.Adam(p, lr=0.01, maximize=True),
        lambda: kt.TorchAdam(0.01, maximize=True),
    ),
    ("rmsprop", lambda p: torch.optim.RMSprop(p, lr=0.01), lambda: kt.TorchRMSprop(0.01)),
    (
        "rmsprop-centered-momentum-wd",
        lambda p: torch.optim.RMSprop(
            p, lr=0.01, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1
        ),
        lambda: kt.TorchRMSprop(0.01, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1),
    ),
    ("adagrad", lambda p: torch.optim.Adagrad(p, lr=0.1), lambda: kt.TorchAdagrad(0.1)),
    (
        "adagrad-decay-acc-wd",
        lambda p: torch.optim.Adagrad(
            p, lr=0.1, lr_decay=0.1, initial_accumulator_value=0.1, weight_decay=0.1
        ),
        lambda: kt.TorchAdagrad(0.1, lr_decay=0.1, initial_accumulator_value=0.1, weight_decay=0.1),
    ),
]


@pytest.mark.parametrize("scale", [1.0, 1e-6], ids=["normal", "tiny"])
@pytest.mark.parametrize(
    ("make_torch", "make_keras"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_helper_matches_torch_float64(make_torch, make_keras, scale):
    expected = _run_torch(make_torch, torch.float64, scale)
    got = _run_keras(make_keras(), np.float64, scale)
    assert _relative_error(expected, got) < 1e-10


@pytest.mark.parametrize(
    ("make_torch", "make_keras"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_helper_matches_torch_float32(make_torch, make_keras):
    expected = _run_torch(make_torch, torch.float32, 1.0)
    got = _run_keras(make_keras(), np.float32, 1.0)
    _assert_close32(expected, got)


@pytest.mark.parametrize(
    ("make_torch", "make_keras"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_convert_optimizer_matches_torch(make_torch, make_keras):
    init, _, _ = _problem()
    optimizer = convert_optimizer(make_torch([torch.nn.Parameter(torch.tensor(p)) for p in init]))
    assert type(optimizer) is type(make_keras())
    expected = _run_torch(make_torch, torch.float64, 1e-6)
    got = _run_keras(optimizer, np.float64, 1e-6)
    assert _relative_error(expected, got) < 1e-10


def test_keras_builtins_are_not_exact():
    """The measurements that justify the helpers: eps placement and float32 hyper-parameters."""
    adam = _run_torch(lambda p: torch.optim.Adam(p, lr=0.01), torch.float64, 1e-6)
    keras_adam = _run_keras(tf.keras.optimizers.Adam(0.01, epsilon=1e-8), np.float64, 1e-6)
    assert _relative_error(adam, keras_adam) > 1e-2
    sgd = _run_torch(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), torch.float64, 1.0)
    keras_sgd = _run_keras(tf.keras.optimizers.SGD(0.1, momentum=0.9), np.float64, 1.0)
    assert _relative_error(sgd, keras_sgd) > 1e-9  # 0.9 rounded through float32


def test_none_gradient_skips_the_variable_like_torch():
    """A parameter without gradient is skipped by torch, including its Adam step count."""
    skip = {(1, 1), (2, 1), (5, 0)}
    make = lambda p: torch.optim.Adam(p, lr=0.01)  # noqa: E731
    expected = _run_torch(make, torch.float64, 1.0, skip=skip)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns about the missing gradients
        got = _run_keras(kt.TorchAdam(0.01), np.float64, 1.0, skip=skip)
    assert _relative_error(expected, got) < 1e-10


@pytest.mark.parametrize(
    "make_torch",
    [
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        lambda p: torch.optim.Adam(p, lr=0.05),
        lambda p: torch.optim.RMSprop(p, lr=0.01),
        lambda p: torch.optim.Adagrad(p, lr=0.1),
    ],
    ids=["sgd", "adam", "rmsprop", "adagrad"],
)
def test_clip_grad_norm(make_torch):
    init, _, _ = _problem()
    keras_opt = convert_optimizer(
        make_torch([torch.nn.Parameter(torch.tensor(p)) for p in init]), clip_grad_norm=0.5
    )
    expected = _run_torch(make_torch, torch.float64, 1.0, clip=0.5)
    got = _run_keras(keras_opt, np.float64, 1.0)
    assert _relative_error(expected, got) < 1e-10
    if isinstance(keras_opt, kt.TorchSGD):  # Keras divides by max(norm, clip), torch by norm + 1e-6
        builtin = tf.keras.optimizers.SGD(0.1, momentum=0.9, global_clipnorm=0.5)
        assert _relative_error(expected, _run_keras(builtin, np.float64, 1.0)) > 1e-8


def test_clip_grad_norm_float32():
    make = lambda p: torch.optim.Adam(p, lr=0.05)  # noqa: E731
    expected = _run_torch(make, torch.float32, 1.0, clip=0.5)
    got = _run_keras(kt.TorchAdam(0.05, global_clipnorm=0.5), np.float32, 1.0)
    _assert_close32(expected, got)


def _two_groups(make):
    def factory(params):
        return make([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.003}])

    return factory


@pytest.mark.parametrize(
    "make_torch",
    [
        _two_groups(lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.9, weight_decay=0.1)),
        lambda p: torch.optim.AdamW(
            [{"params": [p[0]], "weight_decay": 0.0}, {"params": [p[1]], "betas": (0.5, 0.9)}],
            lr=0.01,
        ),
    ],
    ids=["sgd-lr", "adamw-wd-betas"],
)
@pytest.mark.parametrize("per_epoch", [False, True])
def test_param_groups_with_schedule_and_clipping(make_torch, per_epoch):
    init, _, _ = _problem()
    params = [torch.nn.Parameter(torch.tensor(p)) for p in init]
    variables = [tf.Variable(p) for p in init]
    parameters = dict(zip(params, variables, strict=True))
    torch_opt = make_torch(params)
    if per_epoch:
        scheduler = sched.StepLR(torch_opt, step_size=2, gamma=0.5)
        keras_opt = convert_optimizer(
            torch_opt, scheduler, parameters=parameters, steps_per_epoch=3, clip_grad_norm=1.0
        )
        expected = _run_torch_per_epoch(make_torch, steps_per_epoch=3)
    else:

        def scheduler(opt):
            return sched.CosineAnnealingLR(opt, T_max=3, eta_min=1e-4)

        keras_opt = convert_optimizer(
            torch_opt, scheduler(torch_opt), parameters=parameters, clip_grad_norm=1.0
        )
        expected = _run_torch(make_torch, torch.float64, 1.0, scheduler=scheduler, clip=1.0)
    assert isinstance(keras_opt, kt.TorchParamGroups)
    got = _run_keras(keras_opt, np.float64, 1.0, variables=variables, compiled=per_epoch)
    assert _relative_error(expected, got) < 1e-10


def _run_torch_per_epoch(make_torch, steps_per_epoch):
    """torch with StepLR(2, 0.5) stepped once every `steps_per_epoch` batches, clipping at 1."""
    init, slope, offsets = _problem()
    params = [torch.nn.Parameter(torch.tensor(p)) for p in init]
    optimizer = make_torch(params)
    scheduler = sched.StepLR(optimizer, step_size=2, gamma=0.5)
    trajectory = []
    for t in range(STEPS):
        for i, p in enumerate(params):
            g = _gradient(slope[i], offsets[t][i], p.detach().numpy(), 1.0)
            p.grad = torch.tensor(g)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        if (t + 1) % steps_per_epoch == 0:
            scheduler.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory


def test_frozen_and_unknown_variables():
    """Mapped parameters outside the optimizer stay put (as in torch); unmapped ones are errors."""
    init, _, _ = _problem()
    params = [torch.nn.Parameter(torch.tensor(p)) for p in init]
    variables = [tf.Variable(p) for p in init]
    make = lambda p: torch.optim.SGD(p[:1], lr=0.1, momentum=0.9)  # noqa: E731
    keras_opt = convert_optimizer(
        make(params), parameters=dict(zip(params, variables, strict=True))
    )
    assert isinstance(keras_opt, kt.TorchParamGroups)
    expected = _run_torch(make, torch.float64, 1.0)
    got = _run_keras(keras_opt, np.float64, 1.0, variables=variables)
    assert _relative_error(expected, got) < 1e-10
    np.testing.assert_array_equal(variables[1].numpy(), init[1])

    mapped = convert_optimizer(make(params), parameters={params[0]: variables[0]})
    assert isinstance(mapped, kt.TorchSGD)
    two = torch.optim.SGD([{"params": [params[0]]}, {"params": [params[1]]}], lr=0.1)
    wrapper = convert_optimizer(two, parameters=dict(zip(params, variables, strict=True)))
    stranger = tf.Variable(np.zeros(2))
    with pytest.raises(ValueError, match="is in no parameter group"):
        wrapper.apply([tf.zeros(2, tf.float64)], [stranger])


@pytest.mark.parametrize(
    "make_torch",
    [
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.0),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
        lambda p: torch.optim.Adam(p, lr=0.1),
        lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.0),
    ],
    ids=["sgd-no-momentum", "sgd-nesterov", "adam", "rmsprop"],
)
def test_one_cycle_cycles_momentum(make_torch):
    """OneCycleLR(cycle_momentum=True) rewrites SGD/RMSprop momentum and Adam's beta1 each step."""
    init, _, _ = _problem()

    def scheduler(opt):
        return sched.OneCycleLR(opt, max_lr=0.05, total_steps=STEPS, pct_start=0.4)

    torch_opt = make_torch([torch.nn.Parameter(torch.tensor(p)) for p in init])
    keras_opt = convert_optimizer(torch_opt, scheduler(torch_opt))
    expected = _run_torch(make_torch, torch.float64, 1.0, scheduler=scheduler)
    got = _run_keras(keras_opt, np.float64, 1.0, compiled=True)
    assert _relative_error(expected, got) < 1e-10
    # Without the momentum cycling the trajectory differs: the test can tell.
    torch_opt = make_torch([torch.nn.Parameter(torch.tensor(p)) for p in init])
    no_cycle = sched.OneCycleLR(
        torch_opt, max_lr=0.05, total_steps=STEPS, pct_start=0.4, cycle_momentum=False
    )
    got = _run_keras(convert_optimizer(torch_opt, no_cycle), np.float64, 1.0)
    assert _relative_error(expected, got) > 1e-6


def test_one_cycle_float32():
    make = lambda p: torch.optim.Adam(p, lr=0.1)  # noqa: E731

    def scheduler(opt):
        return sched.OneCycleLR(opt, max_lr=0.05, total_steps=STEPS)

    init, _, _ = _problem()
    torch_opt = make([torch.nn.Parameter(torch.tensor(p, dtype=torch.float32)) for p in init])
    keras_opt = convert_optimizer(torch_opt, scheduler(torch_opt))
    _assert_close32(
        _run_torch(make, torch.float32, 1.0, scheduler=scheduler),
        _run_keras(keras_opt, np.float32, 1.0),
    )


def test_model_fit_with_param_groups():
    """The converted optimizer works inside Keras's compiled train step (model.fit)."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 5)), rng.normal(size=(12, 2))
    torch_model = torch.nn.Linear(5, 2).double()
    optimizer = torch.optim.Adam(
        [{"params": [torch_model.weight]}, {"params": [torch_model.bias], "lr": 0.1}], lr=0.01
    )
    scheduler = sched.ExponentialLR(optimizer, gamma=0.9)
    keras_model = tf.keras.Sequential(
        [tf.keras.Input((5,), dtype="float64"), tf.keras.layers.Dense(2, dtype="float64")]
    )
    keras_model.set_weights(
        [torch_model.weight.detach().numpy().T, torch_model.bias.detach().numpy()]
    )
    parameters = {
        torch_model.weight: keras_model.layers[0].kernel,
        torch_model.bias: keras_model.layers[0].bias,
    }
    keras_opt = convert_optimizer(optimizer, scheduler, parameters=parameters)
    keras_model.compile(optimizer=keras_opt, loss=convert_loss(torch.nn.MSELoss()))
    # A dataset keeps float64 (Keras casts float64 numpy inputs to floatx).
    keras_model.fit(
        tf.data.Dataset.from_tensor_slices((x, y)).batch(4), epochs=2, shuffle=False, verbose=0
    )
    for _ in range(2):
        for start in range(0, 12, 4):
            optimizer.zero_grad()
            loss = torch.mean(
                (
                    torch_model(torch.tensor(x[start : start + 4]))
                    - torch.tensor(y[start : start + 4])
                )
                ** 2
            )
            loss.backward()
            optimizer.step()
            scheduler.step()
    np.testing.assert_allclose(
        keras_model.layers[0].kernel.numpy(),
        torch_model.weight.detach().numpy().T,
        rtol=1e-10,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        keras_model.layers[0].bias.numpy(),
        torch_model.bias.detach().numpy(),
        rtol=1e-10,
        atol=1e-12,
    )


def test_config_round_trip():
    for optimizer in [
        kt.TorchSGD(0.1, momentum=0.9, dampening=0.1, weight_decay=0.01, nesterov=False),
        kt.TorchAdam(0.01, beta_1=0.8, amsgrad=True, weight_decay=0.1, decoupled_weight_decay=True),
        kt.TorchRMSprop(0.01, alpha=0.9, momentum=0.5, centered=True, global_clipnorm=1.0),
        kt.TorchAdagrad(0.1, lr_decay=0.1, initial_accumulator_value=0.2),
        kt.TorchSGD(0.1, momentum=kt.TorchOneCycleLR(0.1, 10, curve="momentum")),
    ]:
        config = optimizer.get_config()
        clone = type(optimizer).from_config(
            config, custom_objects={"TorchOneCycleLR": kt.TorchOneCycleLR}
        )
        assert clone.get_config() == config


def test_float_learning_rate_is_float64_and_settable():
    optimizer = kt.TorchAdam(0.1)
    assert optimizer.learning_rate.dtype == "float64"
    assert float(optimizer.learning_rate.numpy()) == 0.1
    optimizer.learning_rate = 0.3
    assert float(optimizer.learning_rate.numpy()) == 0.3
    assert tf.keras.backend.floatx() == "float32"


def test_refusals():
    p = torch.nn.Parameter(torch.zeros(3))
    with pytest.raises(TypeError, match=r"expects one of torch\.optim\.SGD.*received: .*NAdam"):
        convert_optimizer(torch.optim.NAdam([p]))
    stepped = torch.optim.Adam([p])
    p.grad = torch.ones(3)
    stepped.step()
    with pytest.raises(ValueError, match="never stepped"):
        convert_optimizer(stepped)
    q = torch.nn.Parameter(torch.zeros(3))
    two = torch.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.1}], lr=0.01)
    with pytest.raises(ValueError, match="needs `parameters`"):
        convert_optimizer(two)
    with pytest.raises(ValueError, match="no Keras variable"):
        convert_optimizer(two, parameters={p: tf.Variable(np.zeros(3))})
    with pytest.raises(ValueError, match="has shape"):
        convert_optimizer(
            two, parameters={p: tf.Variable(np.zeros(3)), q: tf.Variable(np.zeros(2))}
        )
    fresh = torch.optim.SGD([p], lr=0.1)
    with pytest.raises(TypeError, match=r"received: lr_scheduler\.LambdaLR"):
        convert_optimizer(fresh, sched.LambdaLR(fresh, lambda e: 0.9**e))
    with pytest.raises(ValueError, match="steps_per_epoch"):
        convert_optimizer(fresh, steps_per_epoch=0)
    with pytest.raises(ValueError, match="clip_grad_norm"):
        convert_optimizer(fresh, clip_grad_norm=-1.0)


def test_param_groups_save_and_load(tmp_path):
    """A model compiled with TorchParamGroups saves and reloads, optimizer state included."""
    rng = np.random.default_rng(2)
    data = tf.data.Dataset.from_tensor_slices((rng.normal(size=(8, 3)), rng.normal(size=(8, 2))))
    data = data.batch(4)
    model = tf.keras.Sequential(
        [tf.keras.Input((3,), dtype="float64"), tf.keras.layers.Dense(2, dtype="float64")]
    )
    dense = model.layers[0]
    optimizer = kt.TorchParamGroups(
        [kt.TorchSGD(0.1, momentum=0.9), kt.TorchAdam(0.01)],
        [[dense.kernel], [dense.bias]],
        global_clipnorm=1.0,
    )
    model.compile(optimizer=optimizer, loss=kt.TorchMSELoss())
    model.fit(data, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "model.keras")
    custom = {
        c.__name__: c for c in (kt.TorchParamGroups, kt.TorchSGD, kt.TorchAdam, kt.TorchMSELoss)
    }
    loaded = tf.keras.models.load_model(tmp_path / "model.keras", custom_objects=custom)
    assert loaded.optimizer.get_config() == optimizer.get_config()
    model.fit(data, epochs=1, shuffle=False, verbose=0)
    loaded.fit(data, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # Without the restored state (fresh optimizer) the second epoch would differ.
    fresh = tf.keras.models.load_model(tmp_path / "model.keras", custom_objects=custom)
    fresh.compile(
        optimizer=kt.TorchParamGroups.from_config(optimizer.get_config(), custom), loss="mse"
    )
    fresh.fit(data, epochs=1, shuffle=False, verbose=0)
    assert not np.array_equal(fresh.get_weights()[0], model.get_weights()[0])


@pytest.mark.parametrize(
    ("make_torch", "make_keras"),
    [
        (lambda p: torch.optim.Adam(p, lr=0.1), lambda: kt.TorchAdam(0.1, global_clipnorm=1.0)),
        (
            lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.9),
            lambda: kt.TorchRMSprop(0.01, momentum=0.9, global_clipnorm=1.0),
        ),
    ],
    ids=["adam", "rmsprop"],
)
def test_sparse_embedding_gradients(make_torch, make_keras):
    """tf.gather gives IndexedSlices gradients; torch's Embedding gives dense ones (same update)."""
    weights = np.random.default_rng(3).normal(size=(5, 3))
    embedding = torch.nn.Embedding(5, 3, _weight=torch.tensor(weights))
    optimizer = make_torch(embedding.parameters())
    variable, keras_opt = tf.Variable(weights), make_keras()
    for indices in ([1, 3, 3], [0, 1], [4]):
        optimizer.zero_grad()
        (embedding(torch.tensor(indices)) ** 2).sum().backward()
        torch.nn.utils.clip_grad_norm_(embedding.parameters(), 1.0)
        optimizer.step()
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.gather(variable, indices) ** 2)
        grad = tape.gradient(loss, variable)
        assert isinstance(grad, tf.IndexedSlices)
        keras_opt.apply([grad], [variable])
    expected = embedding.weight.detach().numpy()
    assert np.max(np.abs(variable.numpy() - expected)) < 1e-10 * np.max(np.abs(expected - weights))
