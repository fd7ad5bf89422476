"""Project classes deriving from nn.BatchNorm2d/3d (timm's BatchNormAct2d, whose forward is a
copy of torch's BatchNorm forward calling F.batch_norm) and F.batch_norm on its own: the
Keras twin derives from TorchBatchNormBase (torch's attributes, weights and buffers under
torch's names), F.batch_norm is the torch_batch_norm helper; checked per layer in eval and
train mode, with the running statistics and num_batches_tracked after train steps."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import torch
from layer_harness import convert_checked, load_module
from test_cnn import images
from test_cnn_idioms import net

import torch2tf
from torch2tf.keras_helpers.subclassed import torch_batch_norm
from torch2tf.translate import translate_source

BATCH_NORM_ACT = '''
class BatchNormAct2d(nn.BatchNorm2d):
    """timm's: BatchNorm + activation, its forward a copy of torch's BatchNorm forward."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, apply_act=True, device=None, dtype=None):
        super().__init__(num_features, eps=eps, momentum=momentum, affine=affine,
                         track_running_stats=track_running_stats, device=device, dtype=dtype)
        self.act = nn.ReLU() if apply_act else nn.Identity()

    def forward(self, x):
        if self.momentum is None:
            exponential_average_factor = 0.0
        else:
            exponential_average_factor = self.momentum
        if self.training and self.track_running_stats:
            if self.num_batches_tracked is not None:
                self.num_batches_tracked.add_(1)
                if self.momentum is None:
                    exponential_average_factor = 1.0 / float(self.num_batches_tracked)
                else:
                    exponential_average_factor = self.momentum
        if self.training:
            bn_training = True
        else:
            bn_training = (self.running_mean is None) and (self.running_var is None)
        x = F.batch_norm(
            x,
            self.running_mean if not self.training or self.track_running_stats else None,
            self.running_var if not self.training or self.track_running_stats else None,
            self.weight,
            self.bias,
            bn_training,
            exponential_average_factor,
            self.eps,
        )
        return self.act(x)


class Halved(nn.BatchNorm2d):
    def forward(self, x):
        return super().forward(x) * 0.5


class Doubled3d(nn.BatchNorm3d):
    def forward(self, x):
        y = F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, self.training,
            self.momentum, self.eps,
        )
        return y * 2.0
'''


def _with(classes: str, source: str) -> str:
    return source.replace("\n\nclass Net", classes + "\n\nclass Net", 1)


SOURCE = _with(
    BATCH_NORM_ACT,
    net(
        "self.conv = nn.Conv2d(3, 8, 3)\nself.bn1 = BatchNormAct2d(8, momentum=0.3)\n"
        "self.bn2 = BatchNormAct2d(8, eps=1e-3, apply_act=False, affine=False)\n"
        "self.conv2 = nn.Conv2d(8, 4, 3)",
        "return self.conv2(self.bn2(self.bn1(self.conv(x))))",
    ),
)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_batch_norm_act_subclass_converts_with_torchs_running_statistics(tmp_path, dtype):
    """Every layer in eval and train mode; three train steps later the running mean and
    variance (torch's unbiased batch variance, momentum 0.3) and num_batches_tracked agree."""
    torch.manual_seed(0)
    model = load_module(tmp_path, SOURCE).Net().to(dtype)
    inputs = images(3, 9).to(dtype)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)
        model.train()
        model(inputs)
    atol, rtol = (1e-10, 1e-10) if dtype == torch.float64 else (1e-5, 1e-4)
    conversion = torch2tf.convert(model.eval(), inputs=inputs, atol=atol, rtol=rtol)
    assert [c.mode for c in conversion.checks] == ["eval", "train"]
    assert conversion.passed, conversion.table()
    code = conversion.source
    assert "class BatchNormAct2d(TorchBatchNormBase):" in code
    assert "self.num_batches_tracked.assign(self.num_batches_tracked + 1)" in code
    assert "axis=-1" in code and "transpose" not in code
    assert {"bn1", "bn2", "bn1.act"} <= {layer.layer for layer in conversion.checks[1].layers}
    moved = {t.torch_name for t in conversion.transfers}
    assert {"bn1.weight", "bn1.running_var", "bn1.num_batches_tracked"} <= moved
    assert "bn2.weight" not in moved
    keras_model = conversion.keras_model
    assert keras_model.bn2.weight is None and keras_model.bn2.eps == 1e-3
    model.train()
    for step in range(3):
        batch = inputs * (step + 1) + step
        expected = model(batch).detach().numpy().transpose(0, 2, 3, 1)
        received = keras_model(conversion.keras_inputs(batch)[0], training=True).numpy()
        np.testing.assert_allclose(received, expected, atol=atol, rtol=rtol)
    for name in ("bn1", "bn2"):
        ours, theirs = getattr(keras_model, name), getattr(model, name)
        for attr in ("running_mean", "running_var"):
            np.testing.assert_allclose(
                getattr(ours, attr).numpy(), getattr(theirs, attr).numpy(), atol=atol, rtol=rtol
            )
        assert int(ours.num_batches_tracked.numpy()) == int(theirs.num_batches_tracked) == 4


def test_a_batch_norm_3d_subclass_calling_f_batch_norm(tmp_path):
    source = _with(
        BATCH_NORM_ACT,
        net(
            "self.conv = nn.Conv3d(2, 4, 3)\nself.bn = Doubled3d(4)",
            "return self.bn(self.conv(x))",
        ),
    )
    conversion = convert_checked(tmp_path, source, images(2, 5, dims=3))
    assert "class Doubled3d(TorchBatchNormBase):" in conversion.source
    assert "momentum=self.momentum" in conversion.source and "axis=-1" in conversion.source


FUNCTIONAL = net(
    "self.conv = nn.Conv2d(3, 6, 3)\n"
    "self.register_buffer('mean', torch.zeros(6))\n"
    "self.register_buffer('var', torch.ones(6))\n"
    "self.register_buffer('fmean', torch.zeros(5))\n"
    "self.register_buffer('fvar', torch.ones(5))\n"
    "self.weight = nn.Parameter(torch.ones(6))\n"
    "self.fc = nn.Linear(6, 5)",
    "y = F.batch_norm(self.conv(x), self.mean, self.var, self.weight, None, self.training, "
    "0.2, 1e-4)\n"
    "z = self.fc(y.mean((2, 3)))\n"
    "return F.batch_norm(z, self.fmean, self.fvar, training=self.training)",
)


def test_functional_batch_norm_on_a_map_and_on_features(tmp_path):
    """On a conv's map the channel axis is Keras's last; on (N, C) features torch's 1. The
    buffers passed as running statistics change in place in training, as torch's."""
    conversion = convert_checked(tmp_path, FUNCTIONAL, images(3, 8))
    code = conversion.source
    assert (
        "torch_batch_norm(self.conv(x), self.mean, self.var, self.weight, training=training, "
        "momentum=0.2, eps=0.0001, axis=-1)"
        in code.replace("\n", " ").replace("  ", "")
        or "axis=-1" in code
    )
    assert "torch_batch_norm(z, self.fmean, self.fvar, training=training)" in code


def test_functional_batch_norm_refuses_what_torch_refuses():
    """No running statistics in eval mode, one value per channel in training: torch raises,
    and so does the helper (never a silently different result)."""
    source = net("self.conv = nn.Conv2d(3, 4, 1)", "return F.batch_norm(self.conv(x), None, None)")
    assert "torch_batch_norm(self.conv(x), None, None, axis=-1)" in translate_source(source)
    x = tf.random.stateless_normal((2, 3, 3, 4), seed=(1, 2))
    with pytest.raises(ValueError, match="running_mean must be defined in evaluation mode"):
        torch_batch_norm(x, None, None, axis=-1)
    batch = torch_batch_norm(x, None, None, training=True, axis=-1).numpy()
    expected = torch.nn.functional.batch_norm(
        torch.from_numpy(x.numpy()).permute(0, 3, 1, 2), None, None, training=True
    )
    np.testing.assert_allclose(batch, expected.permute(0, 2, 3, 1).numpy(), atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="more than 1 value per channel"):
        ones, zeros = tf.Variable(tf.ones(4)), tf.Variable(tf.zeros(4))
        torch_batch_norm(tf.ones((1, 4)), zeros, ones, training=True)


def test_a_batch_norm_subclass_calling_the_base_forward_on_a_map(tmp_path):
    """``super().forward(x)``: TorchBatchNormBase's call, torch's BatchNorm on the map."""
    source = _with(
        BATCH_NORM_ACT,
        net(
            "self.conv = nn.Conv2d(3, 4, 3)\nself.bn = Halved(4, momentum=0.2)",
            "return self.bn(self.conv(x))",
        ),
    )
    conversion = convert_checked(tmp_path, source, images(3, 7))
    assert "class Halved(TorchBatchNormBase):" in conversion.source
    assert "return super().call(x, training=training) * 0.5" in conversion.source
    assert {"bn.running_mean", "bn.num_batches_tracked"} <= {
        t.torch_name for t in conversion.transfers
    }


def test_a_batch_norm_subclass_twin_saves_as_a_keras_file_and_reloads(tmp_path):
    """TorchBatchNormBase keeps its constructor's arguments (get_config): the .keras file
    reloads in a TensorFlow-only process and matches."""
    source = _with(
        BATCH_NORM_ACT,
        net(
            "self.conv = nn.Conv2d(3, 4, 3)\nself.bn = BatchNormAct2d(4, eps=1e-3)",
            "return self.bn(self.conv(x))",
        ),
    )
    conversion = convert_checked(tmp_path, source, images(3, 7))
    conversion.save(tmp_path / "out", formats=["keras"])
    assert conversion.exports["keras"]["passed"], conversion.exports
