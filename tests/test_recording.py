"""torch2tf.recording(): models built by factories convert without restating their arguments;
torch layer classes and partials of them as constructor arguments."""

import copy
import pickle
import types
from functools import partial

import numpy as np
import pytest
import tensorflow as tf
import torch
from factory_nets import Block, small_mlp, small_net
from live_tree import Gated, Head
from torch import nn

import torch2tf
from torch2tf.constructor_records import recorded_arguments
from torch2tf.live_tree import keras_argument

TF_BATCH_NORM = partial(nn.BatchNorm1d, eps=1e-3, momentum=0.01)


def _module_classes() -> dict[type, object]:
    """Every nn.Module class alive and the ``__init__`` of its own, if it defines one."""
    found, todo = {}, [nn.Module]
    while todo:
        cls = todo.pop()
        if cls not in found:
            found[cls] = vars(cls).get("__init__")
            todo += cls.__subclasses__()
    return found


def _is_wrapper(init: object) -> bool:
    """Whether ``init`` is recording's wrapper (functools.wraps copies the name, not the code)."""
    code = getattr(init, "__code__", None)
    return code is not None and code.co_qualname == "_wrap.<locals>.__init__"


def test_recording_keeps_the_arguments_of_every_module_a_factory_builds():
    with torch2tf.recording():
        model = small_net(norm_layer=nn.BatchNorm1d, width=16)
    recorded = recorded_arguments(model)
    assert recorded.args == (Block, [1, 1])
    assert recorded.kwargs == {"norm_layer": nn.BatchNorm1d, "width": 16}
    block = recorded_arguments(model.blocks[0])
    assert (block.args, block.kwargs) == ((16, nn.BatchNorm1d), {})
    assert recorded_arguments(model.stem).args == (64, 16)
    assert recorded_arguments(small_net(norm_layer=nn.BatchNorm1d)) is None  # outside: none


def test_recording_restores_torch_exactly_also_on_errors_and_when_nested():
    before = _module_classes()
    module_dict = dict(vars(nn.Module))
    with pytest.raises(ValueError, match="inside"):
        with torch2tf.recording():
            with torch2tf.recording():
                outer = nn.Linear(2, 3)
            inner_done = nn.Linear(3, 4)  # still recording after the inner block closed
            raise ValueError("inside")
    assert recorded_arguments(outer).args == (2, 3)
    assert recorded_arguments(inner_done).args == (3, 4)
    after = _module_classes()
    assert {c: after[c] for c in before} == before
    assert dict(vars(nn.Module)) == module_dict
    assert not any(_is_wrapper(init) for init in after.values())


def test_classes_defined_while_recording_are_recorded_and_restored():
    with torch2tf.recording():
        assert _is_wrapper(vars(nn.Linear)["__init__"])

        class Scaled(nn.Module):
            def __init__(self, width, *, scale=2.0):
                super().__init__()
                self.fc = nn.Linear(width, width)
                self.scale = scale

        model = Scaled(4, scale=3.0)
    assert (recorded_arguments(model).args, recorded_arguments(model).kwargs) == (
        (4,),
        {"scale": 3.0},
    )
    assert not _is_wrapper(vars(Scaled)["__init__"])


def test_copies_and_unpickled_modules_have_no_record():
    with torch2tf.recording():
        model = small_mlp(norm_layer=nn.BatchNorm1d)
        copied = copy.deepcopy(model)
        loaded = pickle.loads(pickle.dumps(model))
    assert recorded_arguments(model) is not None
    assert recorded_arguments(copied) is None
    assert recorded_arguments(loaded) is None


def test_convert_uses_the_recorded_arguments():
    torch.manual_seed(0)
    with torch2tf.recording():
        model = small_mlp(norm_layer=TF_BATCH_NORM, num_classes=5)
    result = torch2tf.convert(model)
    assert result.passed, result.table()
    norms = [layer for layer in result.keras_model.body.layers if "Norm" in type(layer).__name__]
    assert [(n.epsilon, n.momentum) for n in norms] == [(1e-3, 0.99), (1e-3, 0.99)]
    assert result.keras_model.head.units == 5


def test_explicit_arguments_win_over_the_recorded_ones():
    with torch2tf.recording():
        model = small_mlp(norm_layer=TF_BATCH_NORM)
    result = torch2tf.convert(model, args=([64, 32, 16], nn.BatchNorm1d))
    norms = [layer for layer in result.keras_model.body.layers if "Norm" in type(layer).__name__]
    assert [(n.epsilon, n.momentum) for n in norms] == [(1e-5, 0.9), (1e-5, 0.9)]


def test_missing_constructor_arguments_name_the_class_the_parameters_and_the_ways_out():
    model = small_mlp(norm_layer=nn.BatchNorm1d)  # not recorded
    with pytest.raises(torch2tf.ConversionError) as err:
        torch2tf.convert(model)
    message = str(err.value)
    assert message.startswith("Mlp needs constructor arguments that torch2tf does not know: ")
    assert "sizes, norm_layer (its constructor is Mlp(sizes, norm_layer," in message
    assert "args=[...], kwargs={...}" in message
    assert "with torch2tf.recording():" in message


def test_explicit_arguments_that_do_not_fit_the_constructor_are_reported():
    with pytest.raises(torch2tf.ConversionError, match="missing a required argument: 'sizes'"):
        torch2tf.convert(small_mlp(norm_layer=nn.BatchNorm1d), kwargs={"norm_layer": nn.ReLU})


def test_a_recorded_torch_layer_argument_is_rebuilt_from_its_tree():
    with torch2tf.recording():
        model = Head(nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 6)), 6, 2)
    result = torch2tf.convert(model)
    assert result.passed, result.table()
    assert [type(layer).__name__ for layer in result.keras_model.backbone.layers] == [
        "Dense",
        "Activation",
        "Dense",
    ]


def test_a_recorded_project_class_instance_argument_takes_the_existing_path():
    with torch2tf.recording():
        model = Head(Gated(6), 6, 2)
    with pytest.raises(torch2tf.ConversionError, match=r"args\[0\]: expected a torch layer or"):
        torch2tf.convert(model)


def test_a_factory_passing_a_project_class_converts():
    with torch2tf.recording():
        model = small_net(norm_layer=TF_BATCH_NORM)
    assert torch2tf.convert(model).passed


def _generated() -> types.ModuleType:
    return types.ModuleType("generated")


@pytest.mark.parametrize(
    "torch_class, keywords, shape",
    [
        (nn.BatchNorm2d, {"eps": 1e-3, "momentum": 0.01}, (8, 5, 5, 6)),
        (nn.BatchNorm2d, {"momentum": 0.3, "affine": False}, (8, 4, 4, 6)),
        (nn.BatchNorm1d, {"eps": 1e-3, "momentum": 0.01}, (8, 6)),
    ],
)
def test_a_partial_of_a_torch_layer_class_makes_the_exact_keras_layer(torch_class, keywords, shape):
    """The Keras layer ``norm_layer(6)`` makes matches torch's in train mode (three steps,
    running statistics updated with torch's momentum) and then in eval mode."""
    norm_layer = keras_argument(partial(torch_class, **keywords), _generated(), "norm_layer")
    assert isinstance(norm_layer, partial)
    torch_layer, keras_layer = torch_class(6, **keywords).double(), None
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        if torch_layer.affine:
            torch_layer.weight.uniform_(0.5, 1.5, generator=generator)
            torch_layer.bias.uniform_(-0.5, 0.5, generator=generator)
    tf.keras.config.set_dtype_policy("float64")
    try:
        keras_layer = norm_layer(6)
        keras_layer.build((None, *shape[1:]))
    finally:
        tf.keras.config.set_dtype_policy("float32")
    weights = [torch_layer.weight, torch_layer.bias] if torch_layer.affine else []
    stats = [torch_layer.running_mean, torch_layer.running_var]
    keras_layer.set_weights([t.detach().numpy() for t in weights + stats])

    def torch_input(x: np.ndarray) -> torch.Tensor:  # NHWC -> torch's NCHW
        return torch.from_numpy(np.moveaxis(x, -1, 1) if x.ndim == 4 else x)

    rng = np.random.default_rng(0)
    for training in (True, True, True, False):
        x = rng.normal(2.0, 3.0, shape)
        torch_layer.train(training)
        with torch.no_grad():
            expected = torch_layer(torch_input(x)).numpy()
        actual = keras_layer(tf.constant(x), training=training).numpy()
        actual = np.moveaxis(actual, -1, 1) if x.ndim == 4 else actual
        np.testing.assert_allclose(actual, expected, atol=1e-12, rtol=1e-10)
    moving = [v.numpy() for v in keras_layer.weights[-2:]]
    np.testing.assert_allclose(moving[0], torch_layer.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(moving[1], torch_layer.running_var.numpy(), rtol=1e-12)


def test_a_torch_layer_class_needing_arguments_maps_to_a_maker_of_its_keras_layer():
    make = keras_argument(nn.BatchNorm1d, _generated(), "norm_layer")
    layer = make(6, eps=1e-4, momentum=0.2)
    assert (layer.epsilon, layer.momentum) == (1e-4, 0.8)
    with pytest.raises(
        torch2tf.ConversionError, match=r"norm_layer: BatchNorm1d\(momentum=\.\.\.\)"
    ):
        make(6, momentum=torch.tensor(0.1))
    with pytest.raises(
        torch2tf.ConversionError, match="norm_layer: BatchNorm1d: BatchNorm momentum=None"
    ):
        make(6, momentum=None)


def test_a_torch_layer_class_made_by_a_helper_brings_the_helper():
    """nn.PReLU's twin is the helper TorchPReLU, which a model that only receives the class
    does not define: the maker emits it."""
    make = keras_argument(nn.PReLU, _generated(), "activation")
    layer = make(num_parameters=3, init=0.5)
    layer.build((None, 3))
    assert type(layer).__name__ == "TorchPReLU"
    np.testing.assert_allclose(layer(tf.constant([[-2.0, 1.0, -4.0]])).numpy(), [[-1, 1, -2]])


def test_torchvision_factories_are_recorded():
    """Recording only: converting torchvision's models is tested with the CNN conversion."""
    from torchvision_loader import import_torchvision

    try:
        models = import_torchvision().models
    except ImportError as err:  # pragma: no cover - torchvision is among the test packages
        pytest.skip(f"torchvision does not import: {err}")
    with torch2tf.recording():
        resnet = models.resnet18(num_classes=7)
        mobilenet = models.mobilenet_v2(width_mult=0.5)
    recorded = recorded_arguments(resnet)
    assert recorded.args == (models.resnet.BasicBlock, [2, 2, 2, 2])
    assert recorded.kwargs == {"num_classes": 7}
    assert recorded_arguments(resnet.layer1[0]).args[:2] == (64, 64)
    assert recorded_arguments(mobilenet).kwargs == {"width_mult": 0.5}
    assert isinstance(recorded_arguments(mobilenet.features[1]).kwargs["norm_layer"], type)
