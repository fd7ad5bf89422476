"""pytorch-tabnet's idioms on our own small models (tests/models/ghost_blocks.py): init
functions with a computed gain run where they stand on a layer that may be passed in, ghost
batch norm over ``torch.chunk`` pieces of the batch. Each model converts and matches torch in
eval and train mode; fresh Keras twins draw torch's distribution."""

import math

import numpy as np
import pytest
import torch
from conftest import MODELS

import torch2tf
from torch2tf import translate_file
from torch2tf.generated import load_generated

ATOL, RTOL = 1e-5, 1e-4


@pytest.fixture(scope="module")
def ghost():
    return load_generated(translate_file(MODELS / "ghost_blocks.py"), "ghost_blocks_tf")


def _convert(model, args, inputs):
    result = torch2tf.convert(model, args=args, inputs=inputs, atol=ATOL, rtol=RTOL)
    assert result.passed, result.table()
    assert [c.mode for c in result.checks] == ["eval", "train"]
    return result


def test_init_function_on_a_layer_that_may_be_passed_in_runs_where_it_stands():
    code = translate_file(MODELS / "ghost_blocks.py")
    assert "def gated_init" not in code  # every call became a torch_init line
    assert code.count("torch_init(\n            self.proj,") == 1
    assert "is also assigned something else" not in code


@pytest.mark.parametrize("batch", [20, 16, 3])
def test_ghost_norm_and_shared_layers_convert(ghost, batch):
    """Batch 20 in virtual batches of 8: torch.chunk(3) gives 7, 7, 6 (not 8, 8, 4)."""
    import ghost_blocks

    torch.manual_seed(0)
    model = ghost_blocks.SharedGates(6, 4, virtual_batch=8)
    inputs = torch.randn(batch, 6, generator=torch.Generator().manual_seed(1))
    _convert(model, (6, 4, 8), (inputs,))


def test_ghost_norm_updates_running_statistics_per_piece(ghost):
    import ghost_blocks

    torch.manual_seed(0)
    model = ghost_blocks.GhostNorm(5, virtual_batch=8, momentum=0.3)
    result = _convert(model, (5, 8, 0.3), (torch.randn(20, 5),))
    twin = result.keras_model
    x = torch.randn(20, 5, generator=torch.Generator().manual_seed(2)) * 3 + 1
    model.train()
    expected = model(x).detach().numpy()
    got = twin(x.numpy(), training=True).numpy()
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(
        twin.norm.moving_mean.numpy(), model.norm.running_mean.numpy(), atol=ATOL, rtol=RTOL
    )
    np.testing.assert_allclose(
        twin.norm.moving_variance.numpy(), model.norm.running_var.numpy(), atol=ATOL, rtol=RTOL
    )


def test_shared_and_new_layers_draw_torchs_gain(ghost):
    """xavier_normal_ with gain sqrt((i + o) / sqrt(i)) on every projection, the shared one
    included (torch initialises it again from each unit)."""
    model = ghost.SharedGates(400, 300)
    model(np.zeros((8, 400), np.float32))
    for unit, fan_in in ((model.left, 400), (model.right, 400), (model.head, 300)):
        kernel = np.asarray(unit.proj.kernel)
        gain = math.sqrt((fan_in + 600) / math.sqrt(fan_in))
        std = gain * math.sqrt(2 / (fan_in + 600))
        assert kernel.shape == (fan_in, 600)
        assert kernel.mean() == pytest.approx(0.0, abs=0.02 * std)
        assert kernel.std() == pytest.approx(std, rel=0.02)
    assert model.left.proj is model.right.proj


def test_a_class_that_needs_a_concrete_batch_is_built_by_its_first_call():
    """GhostNorm reads the batch size as a Python number (a symbolic build input has none),
    and every class that builds one, at any depth, is built by its first call too."""
    code = translate_file(MODELS / "ghost_blocks.py")
    assert code.count("tf.keras.Input") == 1  # Heads only
    plain = MODELS / "ghost_blocks.py"
    source = plain.read_text(encoding="utf-8").replace(
        "int(np.ceil(x.shape[0] / self.virtual_batch))", "3"
    )
    built = torch2tf.translate_source(source, "ghost_blocks.py")
    assert built.count("tf.keras.Input") == 2  # and GatedUnit (its first layer is a Linear)


@pytest.mark.parametrize("out", [3, [2, 3]])
def test_init_function_under_if_and_loop_on_local_layers_converts(ghost, out):
    import ghost_blocks

    torch.manual_seed(0)
    model = ghost_blocks.Heads(6, out)
    _convert(model, (6, out), (torch.randn(8, 6),))


def test_init_function_under_if_and_loop_draws_torchs_gain(ghost):
    model = ghost.Heads(400, [300, 500])
    for head, fan_out in zip(model.heads, (300, 500), strict=True):
        kernel = np.asarray(head.kernel)
        gain = math.sqrt((400 + fan_out) / math.sqrt(400))
        assert kernel.std() == pytest.approx(gain * math.sqrt(2 / (400 + fan_out)), rel=0.02)
    np.testing.assert_array_equal(np.asarray(model.mix), np.eye(400))


def test_a_batch_size_left_open_is_reported_at_its_source_line(ghost):
    """Under tf.function with an open batch (a SavedModel's signature) ghost batch norm has no
    number of pieces: the error names the torch source line, instead of failing in NumPy."""
    import tensorflow as tf

    norm = ghost.GhostNorm(5)
    norm(np.zeros((4, 5), np.float32))
    traced = tf.function(norm.call, input_signature=[tf.TensorSpec((None, 5), tf.float32)])
    with pytest.raises(ValueError, match=r"ghost_blocks\.py:23:38: torch computes with this size"):
        traced.get_concrete_function()
    fixed = tf.function(norm.call, input_signature=[tf.TensorSpec((20, 5), tf.float32)])
    assert fixed(tf.ones((20, 5))).shape == (20, 5)


def test_init_function_argument_read_from_an_attribute_is_a_value():
    """``init(self.fc, n, self.d)``: self.fc is the layer, self.d a number (pytorch-tabnet's
    TabNetPretraining passes ``self.input_dim``)."""
    source = (
        "import numpy as np\nimport torch.nn as nn\n\n\n"
        "def init(m, i, o):\n    nn.init.xavier_normal_(m.weight, gain=np.sqrt(i + o))\n\n\n"
        "class Net(nn.Module):\n    def __init__(self, n, d):\n        super().__init__()\n"
        "        self.d = d\n        self.fc = nn.Linear(n, d)\n"
        "        init(self.fc, n, self.d)\n\n"
        "    def forward(self, x):\n        return self.fc(x)\n"
    )
    code = torch2tf.translate_source(source, "net.py")
    assert "(math.sqrt(n + self.d)) ** 2" in code and "def init(" not in code
