"""Functional forms, torch math and Tensor methods: generated text, numbers, tf.function, refusals.

Every case is one expression over ``h = self.fc(x)`` (shape (B, 6)), ``h3`` (B, 2, 3) and the
positive ``p``. The cases of a group become one module class returning a dict, which goes
through the real pipeline (``torch2tf.convert``), then through ``tf.function`` with an unknown
batch size; each output is compared with torch's, dtype included.
"""

import importlib.util
import re
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
import torch

import torch2tf
from torch2tf import TranslationError, translate_source
from torch2tf.rules import FUNCTIONS, METHODS, Arg

ATOL, RTOL = 1e-5, 1e-4

# (key, torch expression, expected TensorFlow text or None)
GROUPS = {
    "Activations": [
        ("relu", "F.relu(h)", "tf.nn.relu(h)"),
        ("torch_relu", "torch.relu(h)", "tf.nn.relu(h)"),
        ("relu_method", "h.relu()", "tf.nn.relu(h)"),
        ("relu6", "F.relu6(h * 8)", "tf.nn.relu6(h * 8)"),
        ("leaky", "F.leaky_relu(h)", "tf.nn.leaky_relu(h, alpha=0.01)"),
        ("leaky_big", "F.leaky_relu(h, negative_slope=2.0)", "alpha=2.0"),
        ("elu", "F.elu(h)", "tf.nn.elu(h)"),
        ("elu_alpha", "F.elu(h, alpha=2.0)", "tf.keras.ops.elu(h, alpha=2.0)"),
        ("celu", "F.celu(h, alpha=0.5)", "tf.keras.ops.celu(h, alpha=0.5)"),
        ("selu", "F.selu(h)", "tf.nn.selu(h)"),
        ("gelu", "F.gelu(h * 3)", "tf.nn.gelu(h * 3)"),
        ("gelu_tanh", "F.gelu(h * 3, approximate='tanh')", "approximate=True"),
        ("silu", "F.silu(h)", "tf.nn.silu(h)"),
        ("mish", "F.mish(h * 3)", "tf.keras.activations.mish(h * 3)"),
        ("sigmoid", "F.sigmoid(h) + torch.sigmoid(h) + h.sigmoid()", "tf.sigmoid(h)"),
        ("tanh", "F.tanh(h) + torch.tanh(h) + h.tanh()", "tf.tanh(h)"),
        ("softplus", "F.softplus(h * 30)", "tf.nn.softplus(h * 30)"),
        ("softplus_beta", "F.softplus(h, beta=2.0, threshold=1.0)", "torch_softplus(h, 2.0, 1.0)"),
        ("softsign", "F.softsign(h)", "tf.nn.softsign(h)"),
        ("hardtanh", "F.hardtanh(h, -0.5, 0.5)", "tf.clip_by_value(h, -0.5, 0.5)"),
        ("hardswish", "F.hardswish(h * 4)", "tf.keras.ops.hard_silu(h * 4)"),
        ("hardsigmoid", "F.hardsigmoid(h * 4)", "tf.keras.ops.hard_sigmoid(h * 4)"),
        ("logsigmoid", "F.logsigmoid(h)", "tf.math.log_sigmoid(h)"),
        ("softmax", "F.softmax(h, dim=1)", "tf.nn.softmax(h, axis=1)"),
        ("softmax_batch", "F.softmax(h, dim=0)", "tf.nn.softmax(h, axis=0)"),
        ("softmax_mid", "F.softmax(h3, dim=1)", None),
        ("softmax_torch", "torch.softmax(h, -1) + h.softmax(dim=-1)", "tf.nn.softmax(h, axis=-1)"),
        ("log_softmax", "F.log_softmax(h, dim=-1)", "tf.nn.log_softmax(h, axis=-1)"),
        ("log_softmax_m", "h3.log_softmax(2)", "tf.nn.log_softmax(h3, axis=2)"),
        ("softmin", "F.softmin(h + 1, dim=1)", "tf.nn.softmax(-(h + 1), axis=1)"),
        ("glu", "F.glu(h)", "tf.keras.ops.glu(h, axis=-1)"),
        ("glu_dim", "F.glu(h3, dim=1)", "tf.keras.ops.glu(h3, axis=1)"),
        ("tanhshrink", "F.tanhshrink(h)", "tf.keras.ops.tanh_shrink(h)"),
        ("softshrink", "F.softshrink(h, 0.3)", "tf.keras.ops.soft_shrink(h, threshold=0.3)"),
        ("hardshrink", "F.hardshrink(h)", "tf.keras.ops.hard_shrink(h, threshold=0.5)"),
        ("threshold", "F.threshold(h, 0.1, 20.0)", "tf.keras.ops.threshold(h, 0.1, 20.0)"),
        ("dropout", "F.dropout(h, p=0.3, training=self.training)", None),
        ("dropout_eval", "F.dropout(h, 0.5, False)", None),
        (
            "linear",
            "F.linear(h, h[:2], h[0, :2])",
            "tf.matmul(h, h[:2], transpose_b=True) + h[0, :2]",
        ),
        ("linear_nobias", "F.linear(h, h[:3])", "tf.matmul(h, h[:3], transpose_b=True)"),
        ("normalize", "F.normalize(h)", "tf.keras.ops.normalize(h, axis=1, order=2"),
        ("normalize_p1", "F.normalize(h3, p=1, dim=-1)", "order=1"),
        ("layer_norm", "F.layer_norm(h, (6,))", "tf.keras.ops.layer_normalization(h, axis=-1"),
        ("layer_norm_wb", "F.layer_norm(h3, (2, 3), h3[0], h3[1], eps=1e-3)", "axis=[-2, -1]"),
    ],
    "Reductions": [
        ("sum_all", "h.sum()", "tf.reduce_sum(h)"),
        ("sum_dim", "torch.sum(h, dim=1)", "tf.reduce_sum(h, axis=1)"),
        ("sum_keep", "h3.sum(-1, keepdim=True)", "tf.reduce_sum(h3, axis=-1, keepdims=True)"),
        ("sum_dims", "h3.sum((0, 2))", "tf.reduce_sum(h3, axis=(0, 2))"),
        ("mean", "h.mean(dim=0)", "tf.reduce_mean(h, axis=0)"),
        ("mean_all", "torch.mean(h)", "tf.reduce_mean(h)"),
        ("prod", "torch.prod(h3, 1)", "tf.reduce_prod(h3, axis=1)"),
        ("amax", "torch.amax(h, dim=1)", "tf.reduce_max(h, axis=1)"),
        ("amax_all", "h.amax()", "tf.reduce_max(h)"),
        ("amin", "h3.amin(-1, keepdim=True)", "tf.reduce_min(h3, axis=-1, keepdims=True)"),
        ("max_all", "h.max()", "tf.reduce_max(h)"),
        ("max_dim", "torch.max(h, 1)", "torch_max(h, 1)"),
        ("max_values", "h.max(dim=1)[0]", "torch_max(h, 1)[0]"),
        ("max_ties", "torch.clamp(h, max=0.0).max(dim=1, keepdim=True)", "keepdim=True"),
        ("min_dim", "torch.min(h3, -1)", "torch_min(h3, -1)"),
        ("max_of_a_name", "torch.max(h, p)", "torch_max(h, p)"),  # p a tensor: elementwise
        ("maximum", "torch.max(h, other=-h) + torch.maximum(h, p)", "tf.maximum(h, -h)"),
        ("minimum", "torch.min(h, other=p) + torch.minimum(h, -h)", "tf.minimum(h, p)"),
        ("argmax", "torch.argmax(h, dim=1)", "tf.argmax(h, axis=1)"),
        ("argmax_flat", "h.argmax()", "tf.argmax(tf.reshape(h, [-1]))"),
        ("argmin_keep", "h3.argmin(2, keepdim=True)", "tf.expand_dims(tf.argmin(h3, axis=2)"),
        ("std_all", "h.std()", "torch_std(h)"),
        ("std_dim", "torch.std(h, 1, keepdim=True)", "torch_std(h, 1, keepdim=True)"),
        ("std_biased", "h.std(dim=1, unbiased=False)", "tf.math.reduce_std(h, axis=1)"),
        ("std_legacy", "torch.std(h, False)", "tf.math.reduce_std(h)"),
        ("var", "torch.var(h, dim=1)", "torch_var(h, 1)"),
        ("var_corr", "h3.var(dim=(1, 2), correction=2)", "torch_var(h3, (1, 2), correction=2)"),
        ("var_biased", "h.var(0, correction=0)", "tf.math.reduce_variance(h, axis=0)"),
        ("matmul", "torch.matmul(h, h.t())", "tf.matmul(h, tf.transpose(h))"),
        ("matmul_bcast", "h3.matmul(h3[0].t())", None),
        ("bmm", "torch.bmm(h3, h3.transpose(1, 2))", "tf.keras.ops.swapaxes(h3, 1, 2)"),
        (
            "baddbmm",
            "torch.baddbmm(h3[:, :, :2], h3, h3.transpose(1, 2), beta=0.5, alpha=0.25)",
            "0.5 * h3[:, :, :2] + 0.25 * tf.matmul(h3",
        ),
        (  # beta=0: torch ignores the input, its infinities included
            "baddbmm_beta0",
            "(h3[:, :, :2] / 0.0).baddbmm(h3, h3.transpose(1, 2), beta=0)",
            '"out": tf.matmul(h3',
        ),
        (
            "addmm",
            "torch.addmm(h3[0, :, 0], h3[:, 0], h3[0].t(), alpha=2)",
            "h3[0, :, 0] + 2 * tf.matmul(h3[:, 0], tf.transpose(h3[0]))",
        ),
        ("einsum", "torch.einsum('bij,bkj->bik', h3, h3)", 'tf.einsum("bij,bkj->bik", h3, h3)'),
        ("einsum_list", "torch.einsum('bi,bi->b', [h, p])", 'tf.einsum("bi,bi->b", h, p)'),
        (
            "tensordot",
            "torch.tensordot(h3, h3[0].t(), dims=([-1], [0]))",
            "tf.tensordot(h3, tf.transpose(h3[0]), axes=([-1], [0]))",
        ),
        ("tensordot_int", "torch.tensordot(h, h[0], 1)", "tf.tensordot(h, h[0], axes=1)"),
    ],
    "Elementwise": [
        ("exp", "torch.exp(h) + h.exp()", "tf.exp(h)"),
        ("log", "torch.log(p) + p.log()", "tf.math.log(p)"),
        ("log1p", "torch.log1p(p)", "tf.math.log1p(p)"),
        ("sqrt", "torch.sqrt(p) + p.sqrt()", "tf.sqrt(p)"),
        ("rsqrt", "torch.rsqrt(p)", "tf.math.rsqrt(p)"),
        ("abs", "torch.abs(h) + h.abs()", "tf.abs(h)"),
        ("neg", "torch.neg(h) + h.neg()", "tf.negative(h)"),
        ("sign", "torch.sign(h)", "tf.sign(h)"),
        ("square", "torch.square(h)", "tf.square(h)"),
        ("sin", "torch.sin(h) + h.sin()", "tf.sin(h)"),
        ("cos", "torch.cos(30.0 * h) + h.cos()", "tf.cos(30.0 * h)"),
        ("add", "torch.add(h, p) + h.add(2.0)", "h + p"),
        ("add_alpha", "torch.add(h, p, alpha=0.5)", "h + 0.5 * p"),
        ("sub", "torch.sub(h, p, alpha=2) + h.subtract(p)", "h - 2 * p"),
        ("mul", "torch.mul(h, p + 1) + h.mul(3.0)", "h * (p + 1)"),
        ("addcmul", "torch.addcmul(h, p, h, value=0.5) + p.addcmul(h, h)", "h + 0.5 * p * h"),
        ("addcmul_1", "torch.addcmul(h3[:, 0], p[:, :3], h3[:, 1])", "h3[:, 0] + p[:, :3] *"),
        ("clamp", "torch.clamp(h, -0.2, 0.3)", "tf.minimum(tf.maximum(h, -0.2), 0.3)"),
        ("clamp_min", "h.clamp(min=0.1)", "tf.maximum(h, 0.1)"),
        ("clip_max", "torch.clip(h, max=0.1) + h.clip(None, 0.2)", "tf.minimum(h, 0.1)"),
        ("clamp_crossed", "torch.clamp(h, min=0.5, max=-0.5)", None),
        ("where", "torch.where(h > 0, h, 0.0)", "tf.where(h > 0, h, 0.0)"),
        ("where_first", "torch.where(h > 0, 1.0, h)", "tf.keras.ops.where(h > 0, 1.0, h)"),
        ("where_t", "torch.where(h > p, h, -p)", "tf.where(h > p, h, -p)"),
        ("pow", "torch.pow(h, 2) + h.pow(3)", "tf.pow(h, 2)"),
        ("pow_frac", "torch.pow(p, 0.5)", "tf.pow(p, 0.5)"),
        (
            "masked_fill",
            "h.masked_fill(h > 0.2, -1.0)",
            "tf.where(h > 0.2, tf.cast(-1.0, h.dtype), h)",
        ),
        ("masked_fill_b", "h3.masked_fill(h3[:1] > 0, float('-inf')).exp()", None),
        ("zeros_like", "torch.zeros_like(h) + torch.ones_like(h)", "tf.zeros_like(h)"),
        ("arange", "torch.arange(6)", "tf.range(6, dtype=tf.int64)"),
        (
            "arange_float",
            "torch.arange(0.0, 3.0, 0.5)",
            "tf.range(0.0, 3.0, 0.5, dtype=tf.float32)",
        ),
        ("arange_step", "torch.arange(1, 7, 2)", "tf.range(1, 7, 2, dtype=tf.int64)"),
        ("arange_size", "torch.arange(h.size(1))", "torch_arange(tf.keras.ops.shape(h)[1])"),
        ("float", "(h > 0).float()", "tf.cast(h > 0, tf.float32)"),
        ("double", "h.double()", "tf.cast(h, tf.float64)"),
        ("long", "(h * 10).long()", "tf.cast(h * 10, tf.int64)"),
        ("type_as", "(h > 0).type_as(h)", "tf.cast(h > 0, h.dtype)"),
        (
            "detach",
            "h.detach() + h.contiguous() + h.clone()",
            "tf.stop_gradient(h) + h + tf.identity(h)",
        ),
        ("to_device", "h.to(x.device) + h.to('cpu')", "h + h"),
        (
            "precedence",
            "(h + 1).contiguous() * 2 + F.dropout(h - 1, 0.5, False) * 3 + (h + 2).to('cpu') * 4"
            " + (h - 2).transpose(0, 0) * 5 - F.softmin(h - 1, 1)"
            " + F.linear(h, h[:2], h[0, :2]).sum(1, keepdim=True) * 6",
            "(h + 1) * 2 + (h - 1) * 3 + (h + 2) * 4 + (h - 2) * 5",
        ),
    ],
    "Shapes": [
        (
            "cat",
            "torch.cat([F.relu(h), h * 2], dim=1)",
            "tf.concat([tf.nn.relu(h), h * 2], axis=1)",
        ),
        ("cat0", "torch.cat((h, p))", "tf.concat((h, p), axis=0)"),
        ("concat", "torch.concat([h3, h3], -1)", "tf.concat([h3, h3], axis=-1)"),
        ("concatenate", "torch.concatenate([h, p], axis=1)", "tf.concat([h, p], axis=1)"),
        ("stack", "torch.stack([h, p], dim=-1)", "tf.stack([h, p], axis=-1)"),
        ("stack0", "torch.stack((h, p))", "tf.stack((h, p), axis=0)"),
        ("split_int", "torch.split(h, 4, dim=1)", "torch_split(h, 4, dim=1)"),
        ("split_list", "torch.split(h, [1, 5], 1)", "tf.split(h, [1, 5], axis=1)"),
        ("split_method", "h3.split(2, -1)", "torch_split(h3, 2, dim=-1)"),
        ("chunk", "torch.chunk(h, 4, dim=1)", "torch_chunk(h, 4, dim=1)"),
        ("chunk_even", "h.chunk(3, -1)", "torch_chunk(h, 3, dim=-1)"),
        ("flatten_all", "torch.flatten(h3)", "tf.reshape(h3, [-1])"),
        ("flatten_1", "torch.flatten(h3, 1)", "torch_flatten(h3, 1)"),
        ("flatten_01", "h3.flatten(0, 1)", "torch_flatten(h3, 0, 1)"),
        ("flatten_m", "h3.flatten(-2)", "torch_flatten(h3, -2)"),
        ("transpose", "torch.transpose(h3, 0, 2)", "tf.keras.ops.swapaxes(h3, 0, 2)"),
        ("transpose_last", "h3.transpose(-1, -2)", "tf.linalg.matrix_transpose(h3)"),
        ("transpose_same", "h3.transpose(1, 1)", None),
        ("t", "h.t()", "tf.transpose(h)"),
        ("permute", "h3.permute(2, 0, 1)", "tf.transpose(h3, perm=[2, 0, 1])"),
        ("permute_neg", "h3.permute(0, -1, 1)", "tf.transpose(h3, perm=[0, -1, 1])"),
        ("permute_tuple", "torch.permute(h3, (1, 0, 2)) + h3.permute((1, 0, 2))", "perm=(1, 0, 2)"),
        ("unsqueeze", "torch.unsqueeze(h, 1)", "tf.expand_dims(h, axis=1)"),
        ("unsqueeze_m", "h.unsqueeze(-1)", "tf.expand_dims(h, axis=-1)"),
        ("squeeze", "h[:, :1].squeeze(1)", "torch_squeeze(h[:, :1], 1)"),
        ("squeeze_noop", "h.squeeze(1)", "torch_squeeze(h, 1)"),
        ("squeeze_all", "torch.squeeze(h3[0, :1])", "tf.squeeze(h3[0, :1])"),
        ("reshape", "torch.reshape(h, (-1, 3, 2))", "tf.reshape(h, (-1, 3, 2))"),
        ("view", "h.view(-1, 2, 3)", "tf.reshape(h, (-1, 2, 3))"),
        ("view_flat", "h.view(-1)", "tf.reshape(h, [-1])"),
        ("view_batch", "h3.view(h3.size(0), -1)", "torch_flatten_batch(h3)"),
        (
            "reshape_size",
            "h.reshape(h.size(0), 3, 2)",
            "tf.reshape(h, (tf.keras.ops.shape(h)[0], 3, 2))",
        ),
        ("view_tuple", "h.view(h3.size())", "tf.reshape(h, tf.keras.ops.shape(h3))"),
        ("view_as", "h.view_as(h3)", "tf.reshape(h, tf.shape(h3))"),
        ("expand", "h3[:, :1].expand(-1, 4, -1)", "torch_expand(h3[:, :1], (-1, 4, -1))"),
        ("expand_new", "h[0].expand(3, 6)", "tf.broadcast_to(h[0], (3, 6))"),
        ("expand_as", "h[:1].expand_as(h)", "tf.broadcast_to(h[:1], tf.shape(h))"),
        ("repeat", "h.repeat(2, 3)", "tf.tile(h, (2, 3))"),
        ("size", "h * h.size(1) + h3.size(-1) + h3.dim() + h[0].numel() + h3[0].size()[1]", None),
        ("size_dynamic", "h.view(h.size(0), h.size(1) // 2, -1)", None),
        ("mm", "h.mm(h.t()) + torch.mm(h, h.t())", "tf.matmul(h, tf.transpose(h))"),
        ("type_dtype", "h.type(torch.float64)", "tf.cast(h, tf.float64)"),
        ("type_of", "h3.type(p.dtype)", "tf.cast(h3, p.dtype)"),
        ("unbind", "torch.stack(h3.unbind(1), -1)", "tf.unstack(h3, axis=1)"),
        (
            "zeros_size",
            "torch.zeros(size=(h.size()[0], 2))",
            "tf.zeros((tf.keras.ops.shape(h)[0], 2))",
        ),
        ("linspace", "torch.linspace(-1.0, 3.0, 7)", "torch_linspace(-1.0, 3.0, 7)"),
        ("one_hot", "F.one_hot(torch.arange(6) % 4, num_classes=4)", "torch_one_hot("),
    ],
}
PREAMBLE = ["h = self.fc(x)", "h3 = h.view(-1, 2, 3)", "p = torch.exp(h) + 0.1"]
HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
# MLPs that flatten their input in forward, before the first Linear fixes the input size.
FLATTENING = """
class ViewMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 6)
        self.fc2 = nn.Linear(6, 3)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        x = F.dropout(F.relu(self.fc1(x)), 0.2, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)


class FlattenMLP(ViewMLP):
    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.fc2(torch.tanh(self.fc1(x))).softmax(-1)
"""


def module_class(name: str, outputs: list[tuple[str, str]]) -> str:
    lines = [f"class {name}(nn.Module):"]
    lines += ["    def __init__(self):", "        super().__init__()"]
    lines += ["        self.fc = nn.Linear(8, 6)", "", "    def forward(self, x):"]
    lines += [f"        {stmt}" for stmt in PREAMBLE]
    lines += ["        return {"] + [f"            {k!r}: {e}," for k, e in outputs] + ["        }"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def torch_module(tmp_path_factory):
    """The cases as torch classes in a real file, imported so that convert() can read it."""
    body = [module_class(n, [(k, e) for k, e, _ in cases]) for n, cases in GROUPS.items()]
    path = tmp_path_factory.mktemp("functional") / "functional_cases.py"
    path.write_text(HEADER + "\n\n" + "\n\n".join(body) + FLATTENING)
    spec = importlib.util.spec_from_file_location("functional_cases", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["functional_cases"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["functional_cases"]


def flat(value, prefix=""):
    """{key: array} for nested dict/tuple/list outputs."""
    if isinstance(value, dict):
        return {k: v for key in value for k, v in flat(value[key], f"{prefix}{key}").items()}
    if isinstance(value, (tuple, list)):
        return {k: v for i, x in enumerate(value) for k, v in flat(x, f"{prefix}[{i}]").items()}
    array = value.detach().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    return {prefix: array}


def assert_outputs_match(expected, received, where):
    expected, received = flat(expected), flat(received)
    assert expected.keys() == received.keys(), where
    for key, want in expected.items():
        got = received[key]
        assert got.dtype == want.dtype, f"{where} {key}: dtype {got.dtype} != torch {want.dtype}"
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=RTOL, err_msg=f"{where} {key}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("group", list(GROUPS))
def test_group_converts_and_matches_torch(torch_module, group, dtype):
    torch.manual_seed(0)
    model = getattr(torch_module, group)().to(dtype)
    inputs = torch.randn(5, 8, dtype=dtype)
    result = torch2tf.convert(model, inputs=inputs)
    assert result.passed, result.table()
    model.eval()
    with torch.no_grad():
        expected = model(inputs)
    keras_model = result.keras_model
    assert_outputs_match(expected, keras_model(tf.constant(inputs.numpy())), "eager")
    traced = tf.function(
        lambda x: keras_model(x, training=False),
        input_signature=[tf.TensorSpec([None, 8], inputs.numpy().dtype)],
    )
    assert_outputs_match(expected, traced(tf.constant(inputs.numpy())), "tf.function")


@pytest.mark.parametrize("name", ["ViewMLP", "FlattenMLP"])
def test_flattening_before_the_first_layer_keeps_static_sizes(torch_module, name):
    torch.manual_seed(0)
    model = getattr(torch_module, name)()
    inputs = torch.randn(5, 2, 4)
    result = torch2tf.convert(model, inputs=inputs)  # the Keras model builds on (None, 8)
    assert result.passed, result.table()
    keras_model = result.keras_model
    traced = tf.function(
        lambda x: keras_model(x, training=False),
        input_signature=[tf.TensorSpec([None, 2, 4], tf.float32)],
    )
    model.eval()
    with torch.no_grad():
        expected = model(inputs)
    assert_outputs_match(expected, traced(tf.constant(inputs.numpy())), "tf.function")


CASES = [(k, e, want) for cases in GROUPS.values() for k, e, want in cases if want]


def translate_expr(expr: str) -> str:
    source = HEADER + "\n\n" + module_class("Net", [("out", expr)])
    return translate_source(source)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("'", '"').replace(",)", ")")


@pytest.mark.parametrize(("key", "expr", "want"), CASES, ids=[c[0] for c in CASES])
def test_generated_text(key, expr, want):
    code = translate_expr(expr)
    assert squash(want) in squash(code), code


REFUSED = [
    ("F.softmax(h)", "implicit dim"),
    ("F.relu(h, inplace=True)", "overwrites the input"),
    ("F.dropout(h, 0.1, self.training, True)", "overwrites the input"),
    ("F.log_softmax(h, dim=None)", "pass dim="),
    ("h.item()", "Tensor.item"),
    ("F.gelu(h, approximate=self.mode)", "approximate="),
    ("torch.where(h > 0)", "nonzero"),
    ("F.dropout(h, p=1.0)", "0 <= p < 1"),
    ("F.normalize(h, p=1.5)", "integer p"),
    ("torch.clamp(h)", "without min or max"),
    ("torch.sum(h, 1, out=p)", "out="),
    ("h.to(self.thing)", "not visibly a dtype"),
    ("torch.einsum(self.eq, h, h)", "string literal"),
    ("torch.std(h, 1, unbiased=True, correction=0)", "either unbiased or correction"),
]


@pytest.mark.parametrize(("expr", "message"), REFUSED)
def test_refused(expr, message):
    with pytest.raises(TranslationError) as err:
        translate_expr(expr)
    assert message in str(err.value)


def test_functional_dropout_follows_training_and_scales(tmp_path):
    source = textwrap.dedent(
        """
        import torch.nn as nn
        import torch.nn.functional as F

        class Drop(nn.Module):
            def forward(self, x):
                return F.dropout(x, 0.5, self.training), F.dropout(x, p=0.25)
        """
    )
    code = translate_source(source)
    assert "tf.nn.dropout(x, rate=0.5) if training else x" in code
    namespace = {}
    exec(compile(code, "<generated>", "exec"), namespace)
    model = namespace["Drop"]()
    x = tf.ones([200, 100])
    follows, always = model(x, training=True)
    for out, rate in ((follows, 0.5), (always, 0.25)):
        kept = out.numpy()[out.numpy() != 0]
        np.testing.assert_allclose(kept, 1 / (1 - rate), rtol=1e-6)  # inverted dropout, as torch
        assert abs(1 - kept.size / 20000 - rate) < 0.03
    follows, always = model(x, training=False)
    assert np.array_equal(follows.numpy(), x.numpy())  # identity in eval
    assert (always.numpy() == 0).any()  # torch's F.dropout default training=True drops anyway


def test_dtype_arguments_translate_once_the_engine_passes_them():
    """torch.float32 reaches rules only once the engine maps dtype names (see NAMES)."""
    x = Arg("x")
    assert METHODS["to"](x, Arg("torch.float64")) == "tf.cast(x, tf.float64)"
    assert METHODS["to"](x, dtype=Arg("tf.int64")) == "tf.cast(x, tf.int64)"
    assert METHODS["to"](x, Arg("x.device"), Arg("torch.float16")) == "tf.cast(x, tf.float16)"
    assert FUNCTIONS["torch.zeros_like"](x, dtype=Arg("torch.long")) == (
        "tf.zeros_like(x, dtype=tf.int64)"
    )
    assert FUNCTIONS["torch.arange"](Arg("5"), dtype=Arg("torch.float32")) == (
        "tf.range(5, dtype=tf.float32)"
    )
    assert FUNCTIONS["torch.nn.functional.softmax"](x, Arg("1"), dtype=Arg("torch.float64")) == (
        "tf.nn.softmax(tf.cast(x, tf.float64), axis=1)"
    )
    assert METHODS["sum"](x, Arg("1"), dtype=Arg("torch.float64")) == (
        "tf.reduce_sum(tf.cast(x, tf.float64), axis=1)"
    )


def test_string_split_in_a_module_is_left_alone():
    assert METHODS["split"](Arg("name"), Arg("'.'")) == "name.split('.')"
    assert METHODS["split"](Arg("name")) == "name.split()"
