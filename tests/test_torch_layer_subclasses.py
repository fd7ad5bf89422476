"""Project classes deriving from a torch layer (nn.LayerNorm, nn.Linear) with their own
forward or constructor: the Keras twin derives from a helper holding the layer's attributes
and weights under torch's names and layout (``self.weight``, ``self.normalized_shape``), so
the subclass's code reads them as written; converted and checked per layer in eval and train
mode, or refused precisely."""

from __future__ import annotations

import pytest
import torch
from layer_harness import convert_checked
from test_cnn import images
from test_cnn_idioms import net

import torch2tf
from torch2tf.translate import translate_source

LAYER_NORM_2D = '''
class LayerNorm2d(nn.LayerNorm):
    """torchvision ConvNeXt's: nn.LayerNorm over the channels of a map."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        x = x.permute(0, 3, 1, 2)
        return x
'''


def _with(classes: str, source: str) -> str:
    return source.replace("\n\nclass Net", classes + "\n\nclass Net", 1)


@pytest.mark.parametrize("norm", ["LayerNorm2d", "functools.partial(LayerNorm2d, eps=1e-6)"])
def test_a_layer_norm_subclass_on_maps_keeps_them_channels_last(tmp_path, norm):
    """ConvNeXt's LayerNorm2d: the permutes around F.layer_norm vanish (Keras's map is
    already NHWC); its weight, bias, eps and normalized_shape are the base's, torch's names."""
    source = "import functools\n" + _with(
        LAYER_NORM_2D,
        net(
            f"norm_layer = {norm}\nself.conv = nn.Conv2d(3, 8, 3)\n"
            "self.norm = norm_layer(8, eps=1e-6)\n"
            "self.head = nn.Sequential(norm_layer(8), nn.Conv2d(8, 4, 3))",
            "return self.head(self.norm(self.conv(x)))",
        ),
    )
    conversion = convert_checked(tmp_path, source, images(3, 9))
    code = conversion.source
    assert "class LayerNorm2d(TorchLayerNormBase):" in code
    assert "axis=torch_normalized_axes(self.normalized_shape)" in code
    assert "gamma=self.weight" in code and "epsilon=self.eps" in code
    assert "transpose" not in code and "permute" not in code
    assert conversion.report["outputs"] == [{"layout": "NCHW -> NHWC"}]
    assert {"norm", "head.0", "head.1"} <= {layer.layer for layer in conversion.checks[1].layers}
    moved = {t.torch_name for t in conversion.transfers}
    assert {"norm.weight", "norm.bias", "head.0.weight", "head.0.bias"} <= moved
    layer = conversion.keras_model.norm
    assert layer.normalized_shape == (8,) and layer.eps == 1e-6


def test_a_layer_norm_subclass_over_two_trailing_dims_without_affine(tmp_path):
    """normalized_shape of two sizes (counted when the code runs) and no weights: the base
    holds None for both, as torch does, and F.layer_norm takes them so."""
    norm = """
class TokenNorm(nn.LayerNorm):
    def forward(self, x):
        y = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return y * 0.5 + x
"""
    source = _with(
        norm,
        net(
            "self.fc = nn.Linear(6, 6)\n"
            "self.norm = TokenNorm((4, 6), eps=1e-4, elementwise_affine=False)",
            "return self.norm(self.fc(x))",
        ),
    )
    inputs = torch.randn(3, 4, 6, generator=torch.Generator().manual_seed(0))
    conversion = convert_checked(tmp_path, source, inputs)
    assert conversion.keras_model.norm.weight is None
    assert "norm.weight" not in {t.torch_name for t in conversion.transfers}


MASKED_LINEAR = '''
class MaskedLinear(nn.Linear):
    """A linear layer whose weight is masked to lower-triangular (MADE-style)."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__(in_features, out_features, bias)
        self.register_buffer("mask", torch.tril(torch.ones(out_features, in_features)))

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class Doubled(nn.Linear):
    def forward(self, input):
        return super().forward(input) * 2.0
'''


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_linear_subclasses_with_a_mask_and_a_super_forward(tmp_path, dtype):
    """The weight stays torch's (out, in): F.linear on ``self.weight * self.mask`` reads it
    as torch does; ``super().forward`` is the base's call (torch's Linear)."""
    source = _with(
        MASKED_LINEAR,
        net(
            "self.fc1 = MaskedLinear(6, 6)\nself.fc2 = MaskedLinear(6, 4, bias=False)\n"
            "self.fc3 = Doubled(4, 3)",
            "return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))",
        ),
    )
    inputs = torch.randn(5, 6, generator=torch.Generator().manual_seed(0))
    conversion = convert_checked(tmp_path, source, inputs, dtype=dtype)
    code = conversion.source
    assert "class MaskedLinear(TorchLinearBase):" in code
    assert "super().__init__(in_features, out_features, bias)" in code
    assert "tf.matmul(x, self.weight * self.mask, transpose_b=True)" in code
    assert "return super().call(input, training=training) * 2.0" in code
    model = conversion.keras_model
    assert tuple(model.fc1.weight.shape) == (6, 6) and model.fc2.bias is None
    assert {"fc1.weight", "fc1.mask", "fc2.weight", "fc3.bias"} <= {
        t.torch_name for t in conversion.transfers
    }
    if dtype == torch.float64:
        assert conversion.max_abs_error < 1e-12


def test_the_linear_base_draws_torchs_default_initialisation():
    """U(-1/sqrt(in), 1/sqrt(in)) for weight and bias, as nn.Linear's reset_parameters."""
    source = _with(MASKED_LINEAR, net("self.fc = MaskedLinear(400, 300)", "return self.fc(x)"))
    namespace: dict = {}
    exec(compile(translate_source(source, "masked.py"), "masked.py", "exec"), namespace)
    layer = namespace["MaskedLinear"](400, 300)
    weight, bias = layer.weight.numpy(), layer.bias.numpy()
    assert weight.shape == (300, 400) and bias.shape == (300,)
    for values in (weight, bias):
        assert values.max() <= 0.05 and values.min() >= -0.05  # 1 / sqrt(400)
        # near both bounds: 300 draws all below 0.045 has probability 0.95**300 = 2e-7
        assert values.max() > 0.045 and values.min() < -0.045
    assert abs(weight.std() - 0.05 / 3**0.5) < 1e-3  # uniform, not a normal's


def test_a_subclass_of_another_torch_layer_is_refused_naming_those_translated():
    source = _with(
        "\nclass Conv(nn.Conv2d):\n    def forward(self, x):\n        return super().forward(x)\n",
        net("self.conv = Conv(3, 8, 3)", "return self.conv(x)"),
    )
    with pytest.raises(torch2tf.TranslationError) as err:
        translate_source(source, "net.py")
    message = str(err.value)
    assert "net.py:5:12: error: a class deriving from torch.nn.Conv2d is not translated" in message
    assert (
        "nn.ModuleDict, nn.LayerNorm, nn.BatchNorm2d, nn.BatchNorm3d and nn.Linear are" in message
    )


def test_an_init_loop_reaching_a_linear_subclass_is_refused():
    """torch's isinstance(m, nn.Linear) holds for MaskedLinear too; Keras's Dense test would
    skip its twin silently, so the loop is refused there."""
    source = _with(
        MASKED_LINEAR,
        net(
            "self.fc1 = MaskedLinear(6, 6)\nself.fc2 = nn.Linear(6, 3)\n"
            "for m in self.modules():\n"
            "    if isinstance(m, nn.Linear):\n"
            "        nn.init.xavier_uniform_(m.weight)",
            "return self.fc2(self.fc1(x))",
        ),
    )
    with pytest.raises(torch2tf.TranslationError) as err:
        translate_source(source, "net.py")
    assert (
        "net.py:27:16: error: this init also reaches MaskedLinear, a subclass of "
        "torch.nn.Linear" in str(err.value)
    )


def test_subclass_twins_save_as_keras_files_and_reload(tmp_path):
    """The helper bases keep their constructor's arguments (get_config): a .keras file of a
    model holding both kinds of subclass reloads in a TensorFlow-only process and matches."""
    source = "import functools\n" + _with(
        LAYER_NORM_2D + MASKED_LINEAR,
        net(
            "self.conv = nn.Conv2d(3, 6, 3)\nself.norm = LayerNorm2d(6)\n"
            "self.fc = MaskedLinear(6, 4)",
            "return self.fc(self.norm(self.conv(x)).mean((2, 3)))",
        ),
    )
    conversion = convert_checked(tmp_path, source, images(3, 7))
    conversion.save(tmp_path / "out", formats=["keras"])
    assert conversion.exports["keras"]["passed"], conversion.exports


def test_a_subclass_of_a_layer_norm_subclass_with_its_own_init(tmp_path):
    """A constructor calling the layer's with fixed arguments (bias=False), an attribute of
    its own, super().forward through two levels of subclass."""
    norms = """
class Norm(nn.LayerNorm):
    def __init__(self, dim):
        super().__init__(dim, eps=1e-6, bias=False)
        self.scale = 2.0

    def forward(self, x):
        return super().forward(x) * self.scale


class ShiftedNorm(Norm):
    def forward(self, x):
        return super().forward(x) + 1.0
"""
    source = _with(
        norms,
        net(
            "self.fc = nn.Linear(6, 8)\nself.n1 = Norm(8)\nself.n2 = ShiftedNorm(8)",
            "return self.n2(self.n1(self.fc(x)))",
        ),
    )
    inputs = torch.randn(5, 6, generator=torch.Generator().manual_seed(0))
    conversion = convert_checked(tmp_path, source, inputs)
    assert "class ShiftedNorm(Norm):" in conversion.source
    assert "return super().call(x, training=training) * self.scale" in conversion.source
    assert conversion.keras_model.n2.bias is None
    assert {"n1", "n2"} <= {layer.layer for layer in conversion.checks[1].layers}
