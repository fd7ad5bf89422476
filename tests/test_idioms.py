"""Custom-layer idioms of real model code: Parameters initialised by reset_parameters(), init
loops over containers, OrderedDict Sequentials built in loops, telemetry calls. Each model is
converted and checked in eval and train mode; fresh Keras twins are checked to draw their
initial weights from torch's distribution."""

import math
import re

import numpy as np
import pytest
import torch
from conftest import MODELS

import torch2tf
from torch2tf import TranslationError, translate_file, translate_source
from torch2tf.generated import load_generated

ATOL, RTOL = 1e-5, 1e-4


@pytest.fixture(scope="module")
def tabular():
    return load_generated(translate_file(MODELS / "tabular_blocks.py"), "tabular_blocks_tf")


@pytest.fixture(scope="module")
def kan():
    return load_generated(translate_file(MODELS / "kan_layer.py"), "kan_layer_tf")


def _convert(model, args, kwargs=None, batch=32, features=None):
    torch.manual_seed(0)
    inputs = torch.randn(batch, features) if features else None
    result = torch2tf.convert(model, args=args, kwargs=kwargs, inputs=inputs)
    assert result.passed, result.table()
    assert result.atol == ATOL and result.rtol == RTOL
    assert {c["mode"] for c in result.report["checks"]} >= {"eval", "train"}
    return result


def _uniform_bounds(values: np.ndarray, bound: float) -> None:
    """Values from U(-bound, bound): inside the bounds, reaching them, with its mean and std."""
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() >= 0.98 * bound
    assert values.mean() == pytest.approx(0.0, abs=0.02 * bound)
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


# --------------------------------------------------------------------------- translation


def test_reset_parameters_becomes_initializers_in_torch_layout():
    code = translate_file(MODELS / "tabular_blocks.py")
    assert "def reset_parameters" not in code and "self.reset_parameters()" not in code
    assert "initializer=TorchLayout(\n" in code  # kaiming_uniform_(a=sqrt(5)) on (out, in)
    assert "initializer=torch_default_bias(in_features)," in code  # the fan_in/bound idiom
    assert "self.bias = None" in code  # register_parameter("bias", None)
    assert "initializer=tf.keras.initializers.Constant(0.5)" in code  # constant_ in __init__


def test_telemetry_dropped_with_a_comment_and_plain_python_kept():
    code = translate_file(MODELS / "tabular_blocks.py")
    assert "_log_api_usage_once" not in code.replace(
        "# torch2tf: torch._C._log_api_usage_once(...) dropped", ""
    )
    assert "# torch2tf: torch._C._log_api_usage_once(...) dropped: torch's API-usage" in code
    assert 'warnings.warn("hidden is narrower than the input", stacklevel=2)' in code
    assert 'logger.debug("ResidualBlock(%d, %d)", d, hidden)' in code
    assert 'assert 0.0 <= dropout < 1.0, "dropout must be in [0, 1)"' in code
    assert "if len(x.shape) != 2:" in code  # the shape check, translated
    dlrm = translate_file(MODELS / "dlrm_style.py")
    assert "# torch2tf: _log_api_usage_once(...) dropped" in dlrm
    assert "recsys_utils" not in dlrm  # its import went with the call


def test_ordered_dict_from_loops_and_generators():
    code = translate_file(MODELS / "dlrm_style.py")
    flat = " ".join(code.split())
    assert 'tf.keras.Sequential( torch_named_layers(OrderedDict(layers)), name="mlp"' in flat
    assert "torch_named_layers(\n" in code  # the generator form
    assert "kernel_initializer=tf.keras.initializers.GlorotUniform()" in code
    assert "kernel_initializer=tf.keras.initializers.RandomNormal( 0.0, 0.02 )" in flat


def test_init_loop_over_a_sequential_built_from_a_list():
    code = translate_file(MODELS / "rl_policy.py")
    assert "def _init_weights" not in code
    assert code.count("kernel_initializer=tf.keras.initializers.Orthogonal(math.sqrt(2))") == 1
    assert "Orthogonal(0.01)" in code and "Orthogonal(1.0)" in code
    assert code.count("bias_initializer=tf.keras.initializers.Zeros()") == 3


# --------------------------------------------------------------------------- conversion


@pytest.mark.parametrize("bias", [True, False])
def test_linear_block_converts(bias):
    from tabular_blocks import LinearBlock

    block = LinearBlock(7, 5, bias=bias)
    result = _convert(block, args=(7, 5), kwargs={"bias": bias}, features=7)
    names = {t.torch_name for t in result.transfers}
    assert names == ({"weight", "bias"} if bias else {"weight"})


def test_tabular_resnet_converts():
    from tabular_blocks import TabularResNet

    torch.manual_seed(1)
    model = TabularResNet(10)
    with torch.no_grad():  # trained-looking gates and norms, not the initial constants
        for block in model.blocks:
            block.gate.uniform_(-1, 1)
            block.norm.running_mean.uniform_(-1, 1)
    result = _convert(model, args=(10,), features=10)
    assert {"blocks.1.gate", "blocks.0.up.weight", "stem.bias"} <= {
        t.torch_name for t in result.transfers
    }


def test_kan_converts():
    from kan_layer import KAN

    result = _convert(KAN([6, 5, 3]), args=([6, 5, 3],), features=6)
    assert "layers.1.spline_weight" in {t.torch_name for t in result.transfers}


def test_actor_critic_converts():
    from rl_policy import ActorCritic

    result = _convert(ActorCritic(8, 2), args=(8, 2), features=8)
    assert "trunk.2.weight" in {t.torch_name for t in result.transfers}


def test_dlrm_style_converts_by_torch_names():
    from dlrm_style import DLRMStyle

    result = _convert(DLRMStyle(13), args=(13,), features=13)
    names = {t.torch_name for t in result.transfers}
    assert {"dense.mlp.fc0.weight", "dense.mlp.fc1.bias", "over.mlp.layer1.weight"} <= names


# --------------------------------------------------------------------------- distributions


def test_linear_block_draws_torch_default_linear_init(tabular):
    from tabular_blocks import LinearBlock

    fan_in = 400
    keras = tabular.LinearBlock(fan_in, 300)
    torch_block = LinearBlock(fan_in, 300)
    assert tuple(keras.weight.shape) == (300, fan_in)  # torch's layout, moved untransposed
    for values in (np.asarray(keras.weight), torch_block.weight.detach().numpy()):
        _uniform_bounds(values, 1 / math.sqrt(fan_in))  # bound from fan_in, not fan_out
    for values in (np.asarray(keras.bias), torch_block.bias.detach().numpy()):
        assert np.abs(values).max() <= 1 / math.sqrt(fan_in)
    assert np.asarray(tabular.ResidualBlock(8, 16).gate).tolist() == [0.5] * 8


def test_kan_three_dimensional_fans_follow_torch(kan):
    from kan_layer import KANLinear

    out_f, in_f, k, gain = 400, 50, 8, 1.5  # 20,000 scalers: std within 0.5% (1 sigma)
    keras = kan.KANLinear(in_f, out_f, k, gain)
    torch_layer = KANLinear(in_f, out_f, k, gain)
    bound = gain * math.sqrt(6 / (in_f * k + out_f * k))  # torch: fans times the last axis
    for values in (np.asarray(keras.spline_weight), torch_layer.spline_weight.detach().numpy()):
        _uniform_bounds(values, bound)
    for values in (np.asarray(keras.spline_scaler), torch_layer.spline_scaler.detach().numpy()):
        assert values.mean() == pytest.approx(1.0, abs=0.01)
        assert values.std() == pytest.approx(1 / math.sqrt(in_f), rel=0.03)


def test_orthogonal_gains_through_the_loop():
    from rl_policy import ActorCritic

    module = load_generated(translate_file(MODELS / "rl_policy.py"), "rl_policy_tf")
    keras = module.ActorCritic(64, 4, hidden_sizes=(64, 64))
    keras(np.zeros((1, 64), np.float32))
    torch_model = ActorCritic(64, 4, hidden_sizes=(64, 64))
    for kernel, weight in zip(
        [keras.trunk.layers[0].kernel, keras.trunk.layers[2].kernel],
        [torch_model.trunk[0].weight, torch_model.trunk[2].weight],
        strict=True,
    ):
        for matrix in (np.asarray(kernel), weight.detach().numpy()):
            np.testing.assert_allclose(matrix.T @ matrix, 2 * np.eye(64), atol=1e-4)
    for matrix in (np.asarray(keras.pi.kernel), torch_model.pi.weight.detach().numpy().T):
        np.testing.assert_allclose(matrix.T @ matrix, 1e-4 * np.eye(4), atol=1e-7)


def test_dlrm_initial_weights_follow_torch():
    from dlrm_style import DLRMStyle

    module = load_generated(translate_file(MODELS / "dlrm_style.py"), "dlrm_style_tf")
    keras = module.DLRMStyle(400, dense_sizes=(300, 200), over_depth=2)
    keras(np.zeros((1, 400), np.float32))
    torch_model = DLRMStyle(400, dense_sizes=(300, 200), over_depth=2)
    bound = math.sqrt(6 / (400 + 300))  # xavier_uniform_
    _uniform_bounds(np.asarray(keras.dense.mlp.get_layer("fc0").kernel), bound)
    _uniform_bounds(torch_model.dense.mlp.fc0.weight.detach().numpy(), bound)
    np.testing.assert_array_equal(keras.dense.mlp.get_layer("fc0").bias, np.zeros(300))
    over = np.asarray(keras.over.mlp.get_layer("layer1").kernel)
    assert over.std() == pytest.approx(0.02, rel=0.03)
    assert torch_model.over.mlp.layer1.weight.std().item() == pytest.approx(0.02, rel=0.03)


# --------------------------------------------------------------------------- refusals

HEAD = "import math\nimport torch\nimport torch.nn as nn\n\nclass Net(nn.Module):\n"


@pytest.mark.parametrize(
    "body, where, message",
    [
        (  # an element of a list of several layer types, by index
            "    def __init__(self, n, zero):\n        super().__init__()\n"
            "        self.layers = nn.ModuleList([nn.Linear(n, n), nn.LayerNorm(n)])\n"
            "        if zero:\n"
            "            nn.init.zeros_(self.layers[0].weight)\n",
            "net.py:10:13:",
            "init of self.layers[0]: which layer it is cannot be told from the source",
        ),
        (  # torch itself raises: fans of a 1-D tensor
            "    def __init__(self, n):\n        super().__init__()\n"
            "        self.b = nn.Parameter(torch.empty(n))\n        self.reset()\n\n"
            "    def reset(self):\n        nn.init.kaiming_uniform_(self.b)\n",
            "net.py:12:9:",
            "b: torch cannot apply this init to a 1-D tensor",
        ),
        (  # a per-layer argument read from the loop variable
            "    def __init__(self, n):\n        super().__init__()\n"
            "        self.layers = nn.ModuleList([nn.Linear(n, n) for _ in range(3)])\n"
            "        for layer in self.layers:\n"
            "            nn.init.normal_(layer.weight, std=1 / layer.in_features)\n",
            "net.py:10:47:",
            "an init argument depending on layer is not translated",
        ),
        (  # a method-local name that shadows nothing, but __init__'s n is another value
            "    def __init__(self, n):\n        super().__init__()\n"
            "        self.w = nn.Parameter(torch.empty(n, n))\n        self.reset()\n\n"
            "    def reset(self):\n        nn.init.normal_(self.w, std=1 / n)\n",
            "net.py:12:37:",
            "'n' here is not the 'n' of __init__",
        ),
        (  # loops over something the translator cannot see into
            "    def __init__(self, n, layers):\n        super().__init__()\n"
            "        self.fc = nn.Linear(n, n)\n        for layer in layers:\n"
            "            nn.init.zeros_(layer.bias)\n",
            "net.py:9:22:",
            "init loop over layers is not translated",
        ),
    ],
)
def test_init_code_that_cannot_be_read_exactly_is_refused(body, where, message):
    with pytest.raises(TranslationError) as info:
        translate_source(HEAD + body, "net.py")
    text = str(info.value)
    assert where in text and message in text, text


def test_parameter_import_paths_and_legacy_constructors():
    source = (
        "import torch\nimport torch.nn\nfrom torch.nn import Parameter as P\n"
        "import torch.nn as nn\n\nclass Net(nn.Module):\n"
        "    def __init__(self, a, b):\n        super().__init__()\n"
        "        self.w1 = torch.nn.Parameter(torch.FloatTensor(a, b))\n"
        "        self.w2 = P(torch.randn(a, b), requires_grad=False)\n"
        "        self.w3 = nn.Parameter(torch.zeros(a, device='cpu', dtype=torch.float32))\n"
        "        self.w4 = nn.Parameter(torch.full((a,), 0.1))\n"
    )
    code = translate_source(source)
    assert 'name="w1", shape=(a, b), initializer="zeros"' in code
    assert "RandomNormal(0.0, 1.0),\n            trainable=False" in code
    assert 'name="w3", shape=(a,), initializer="zeros"' in code
    assert "Constant(0.1)" in code
    with pytest.raises(TranslationError, match="holds data"):
        translate_source(source.replace("FloatTensor(a, b)", "Tensor([1.0, 2.0])"))


def test_named_parameters_loop_decided_per_parameter():
    from param_loop_model import GatedFeedForward

    code = translate_file(MODELS / "param_loop_model.py")
    flat = " ".join(code.split())
    assert "def _reset_parameters" not in code and "self.named_parameters" not in code
    assert flat.count("kernel_initializer=tf.keras.initializers.GlorotUniform()") == 2
    assert flat.count("bias_initializer=tf.keras.initializers.Zeros()") == 2
    assert "beta_initializer=tf.keras.initializers.Zeros()" in flat  # LayerNorm's bias
    assert "gamma_initializer" not in flat  # its 1-D weight is neither matrix nor bias
    assert "initializer=TorchLayout(tf.keras.initializers.GlorotUniform())" in flat
    assert 'name="scale", shape=(d,), initializer="ones"' in flat
    _convert(GatedFeedForward(6, 12), args=(6, 12), features=6)
    module = load_generated(code, "param_loop_model_tf")
    keras, torch_model = module.GatedFeedForward(300, 500), GatedFeedForward(300, 500)
    bound = math.sqrt(6 / (300 + 500))  # torch's xavier on the (hidden, d) gate
    _uniform_bounds(np.asarray(keras.gate), bound)
    _uniform_bounds(torch_model.gate.detach().numpy(), bound)


@pytest.mark.parametrize(
    "loop, where, message",
    [
        (  # 'weight' may be in a module path that a formatted key makes
            "        for name, p in self.named_parameters():\n"
            "            if 'weight' in name:\n                nn.init.xavier_uniform_(p)\n",
            "net.py:10:16:",
            "whether 'weight' is in the module path of bias is not known statically",
        ),
        (  # torch raises on the biases
            "        for p in self.parameters():\n            nn.init.xavier_uniform_(p)\n",
            "net.py:10:13:",
            "the loop reaches bias: torch cannot apply this init to a 1-D tensor",
        ),
        (
            "        for name, p in self.named_parameters():\n"
            "            if p.requires_grad:\n                nn.init.zeros_(p)\n",
            "net.py:10:16:",
            "unsupported condition in a parameters() loop",
        ),
    ],
)
def test_parameters_loops_left_open_by_the_source_are_refused(loop, where, message):
    source = (
        HEAD + "    def __init__(self, n):\n        super().__init__()\n"
        "        self.seq = nn.ModuleDict({f'fc{i}': nn.Linear(n, n) for i in range(2)})\n" + loop
    )
    with pytest.raises(TranslationError) as info:
        translate_source(source, "net.py")
    text = str(info.value)
    assert where in text and message in text, text


def test_init_under_the_condition_that_creates_the_layer_is_taken():
    source = HEAD + (
        "    def __init__(self, n, extra):\n        super().__init__()\n"
        "        if extra:\n            self.fc = nn.Linear(n, n)\n"
        "            nn.init.zeros_(self.fc.bias)\n"
        "            self.w = nn.Parameter(torch.empty(n, n))\n"
        "            nn.init.orthogonal_(self.w)\n"
    )
    code = translate_source(source)
    assert "bias_initializer=tf.keras.initializers.Zeros()" in code
    assert "initializer=TorchLayout(tf.keras.initializers.Orthogonal(1))" in code
    assert "nn.init" not in code


def test_init_in_one_branch_does_not_reach_the_other_branch():
    source = HEAD + (
        "    def __init__(self, n, zero):\n        super().__init__()\n"
        "        if zero:\n            self.fc = nn.Linear(n, n)\n"
        "            nn.init.zeros_(self.fc.weight)\n"
        "            self.w = nn.Parameter(torch.empty(n))\n"
        "            nn.init.ones_(self.w)\n"
        "        else:\n            self.fc = nn.Linear(n, n)\n"
        "            self.w = nn.Parameter(torch.randn(n))\n"
    )
    code = translate_source(source)
    assert code.count("kernel_initializer=tf.keras.initializers.Zeros()") == 1
    assert code.count("kernel_initializer=torch_default_kernel()") == 1
    assert code.count("Ones()") == 1 and code.count("RandomNormal(0.0, 1.0)") == 1


# --------------------------------------------------------------------------- init functions


@pytest.fixture(scope="module")
def init_functions():
    return load_generated(translate_file(MODELS / "init_functions.py"), "init_functions_tf")


def test_module_init_function_becomes_initializers_and_is_dropped():
    code = translate_file(MODELS / "init_functions.py")
    assert "def initialize_non_glu" not in code and "initialize_non_glu(self" not in code
    # the gain is computed from the call's arguments, numpy's sqrt as math's
    assert "(math.sqrt((d_in + d_out) / math.sqrt(4 * d_in))) ** 2" in code
    assert "np." not in code


@pytest.mark.parametrize(
    "name, args",
    [
        ("GainBlock", (6, 5)),
        ("DefaultInitBlock", (6, 5)),
        ("DefaultInitBlock", (6, 5, False)),
        ("DefaultInitMLP", (6, [8, 5], 3)),  # the default only passed on to each block
    ],
)
def test_init_function_models_convert(name, args):
    import init_functions

    torch.manual_seed(0)
    _convert(getattr(init_functions, name)(*args), args=args)


def test_init_function_draws_torch_distribution(init_functions):
    import init_functions as torch_models

    d_in, d_out = 400, 300
    gain = math.sqrt((d_in + d_out) / math.sqrt(4 * d_in))
    expected = gain * math.sqrt(2 / (d_in + d_out))  # xavier_normal_ with that gain
    kernel = np.asarray(init_functions.GainBlock(d_in, d_out).fc.kernel)
    torch_weight = torch_models.GainBlock(d_in, d_out).fc.weight.detach().numpy()
    assert kernel.shape == torch_weight.T.shape
    assert kernel.std() == pytest.approx(expected, rel=0.02)
    assert torch_weight.std() == pytest.approx(expected, rel=0.02)
    assert abs(kernel.mean()) < 0.02 * expected
    # a normal, not truncated: about 0.27% of draws lie beyond 3 std, as in torch
    beyond = (np.abs(kernel) > 3 * expected).mean()
    assert beyond == pytest.approx((np.abs(torch_weight) > 3 * expected).mean(), abs=0.001)
    assert beyond > 0.001


def test_default_init_function_draws_torch_distribution(init_functions):
    import init_functions as torch_models

    kernel = np.asarray(init_functions.DefaultInitBlock(500, 400).linear.kernel)
    torch_weight = torch_models.DefaultInitBlock(500, 400).linear.weight.detach().numpy()
    expected = math.sqrt(2 / 500)  # kaiming_normal_(nonlinearity="relu"), fan_in = 500
    assert kernel.std() == pytest.approx(expected, rel=0.02)
    assert torch_weight.std() == pytest.approx(expected, rel=0.02)
    assert (np.abs(kernel) > 3 * expected).mean() > 0.001  # untruncated


def test_default_init_function_refuses_another_value(init_functions):
    block = init_functions.DefaultInitBlock(3, 2, w_init_="default")
    assert block.linear.kernel.shape == (3, 2)
    with pytest.raises(ValueError, match=r"w_init_: only its default init function"):
        init_functions.DefaultInitBlock(3, 2, w_init_=None)
    with pytest.raises(ValueError, match=r"w_init_"):
        init_functions.DefaultInitBlock(3, 2, w_init_=lambda w: w)


def test_forwarded_init_function_default_reaches_the_blocks_as_their_default(init_functions):
    mlp = init_functions.DefaultInitMLP(500, [400], 2)
    kernel = np.asarray(mlp.net.layers[0].linear.kernel)
    assert kernel.std() == pytest.approx(math.sqrt(2 / 500), rel=0.02)  # the block's default
    with pytest.raises(ValueError, match=r"w_init_: only its default init function"):
        init_functions.DefaultInitMLP(3, [4], 2, w_init_=None)


def test_init_function_default_used_otherwise_is_not_fixed():
    source = (MODELS / "init_functions.py").read_text(encoding="utf-8")
    source = source.replace(  # the MLP keeps its default: no longer only passed on
        "        self.net = nn.Sequential(*net)\n",
        "        self.net = nn.Sequential(*net)\n        self.w_init_ = w_init_\n",
    )
    with pytest.raises(TranslationError, match=r"init_functions\.py:\d+:\d+: .*kaiming_normal_"):
        translate_source(source, "init_functions.py")


@pytest.mark.parametrize(
    "body, where, message",
    [
        (  # the init function reads the layer itself: no Keras equivalent read statically
            "def init(m, n):\n    nn.init.uniform_(m.weight, -m.in_features, n)\n",
            "4:32",
            "depending on the layer or tensor m",
        ),
        (
            "def init(m, *rest):\n    nn.init.zeros_(m.weight)\n",
            "11:9",
            "only with plain parameters",
        ),
    ],
)
def test_init_functions_that_cannot_be_read_are_refused(body, where, message):
    source = (
        f"import torch.nn as nn\n\n{body}\n\nclass Net(nn.Module):\n"
        "    def __init__(self, n):\n        super().__init__()\n"
        "        self.fc = nn.Linear(n, n)\n        init(self.fc, n)\n\n"
        "    def forward(self, x):\n        return self.fc(x)\n"
    )
    with pytest.raises(TranslationError) as err:
        translate_source(source, "net.py")
    assert f"net.py:{where}" in str(err.value) and message in str(err.value)


def test_init_function_on_a_layer_that_may_be_passed_in_runs_where_it_stands():
    # pytorch-tabnet's GLU_Layer: torch re-initialises a shared layer passed in as well
    source = (
        "import torch.nn as nn\n\n\ndef init(m):\n    nn.init.zeros_(m.weight)\n\n\n"
        "class Net(nn.Module):\n    def __init__(self, n, fc=None):\n        super().__init__()\n"
        "        if fc:\n            self.fc = fc\n        else:\n"
        "            self.fc = nn.Linear(n, n)\n        init(self.fc)\n\n"
        "    def forward(self, x):\n        return self.fc(x)\n"
    )
    code = translate_source(source, "net.py")
    assert 'torch_init(self.fc, "kernel", tf.keras.initializers.Zeros())' in code
    assert "def init(" not in code


def test_init_method_on_a_layer_that_may_be_passed_in_is_refused():
    source = (
        "import torch.nn as nn\n\n\n"
        "class Net(nn.Module):\n    def __init__(self, n, fc=None):\n        super().__init__()\n"
        "        if fc:\n            self.fc = fc\n        else:\n"
        "            self.fc = nn.Linear(n, n)\n        self.reset_parameters()\n\n"
        "    def reset_parameters(self):\n        nn.init.zeros_(self.fc.weight)\n\n"
        "    def forward(self, x):\n        return self.fc(x)\n"
    )
    with pytest.raises(TranslationError) as err:
        translate_source(source, "net.py")
    assert "net.py:14:9" in str(err.value)
    assert "self.fc is also assigned something else than its layer (line 8)" in str(err.value)


def test_project_function_returning_objects_keeps_their_methods():
    """tuplekit's tuplefy (another file, re-exported by the package) returns a tuple tree:
    its .flatten() stays as written, and the MLP converts."""
    from tuplekit.model import TreeMLP

    code = translate_file(MODELS / "tuplekit" / "model.py")
    assert "tuplefy(in_features, num_nodes).flatten()" in code
    args = (6, [8, [5]], 3)
    torch.manual_seed(0)
    _convert(TreeMLP(*args), args=args)


def test_function_of_an_unread_file_is_not_guessed():
    source = (MODELS / "tuplekit" / "model.py").read_text(encoding="utf-8")
    with pytest.raises(TranslationError, match=r"model\.py:11:\d+: .*cannot tell whether tuplefy"):
        translate_source(source, "model.py")  # alone: tuplefy's file is not read


def test_starred_parameter_shape_converts_and_sizes_after_it_are_read():
    """zuko's idiom: ``torch.empty(*shape, out, in)``, then a bound from ``weight.shape[-1]``."""
    import stacked_linear

    torch.manual_seed(0)
    _convert(stacked_linear.StackMLP(6, 8, 3), args=(6, 8, 3), features=6)
    twin = load_generated(translate_file(MODELS / "stacked_linear.py"), "stacked_linear_tf")
    layer = twin.StackLinear(500, 400, stack=3)
    weight, bias = np.asarray(layer.weight), np.asarray(layer.bias)
    assert weight.shape == (3, 400, 500) and bias.shape == (3, 400)
    _uniform_bounds(weight, 1 / math.sqrt(500))


def test_size_behind_a_starred_shape_is_refused():
    source = (MODELS / "stacked_linear.py").read_text(encoding="utf-8")
    source = source.replace("self.weight.shape[-1]", "self.weight.shape[0]")
    with pytest.raises(
        TranslationError, match=r"stacked_linear\.py:21:\d+: .*a starred size comes before it"
    ):
        translate_source(source, "stacked_linear.py")


def test_a_subclass_of_a_torch_layer_is_refused_at_its_base():
    source = (
        "from torch import nn\n\n\n"
        "class Norm(nn.GroupNorm):\n"
        "    def __init__(self, d):\n"
        "        super().__init__(1, d)\n"
    )
    with pytest.raises(
        TranslationError, match=r"norm\.py:4:12: error: a class deriving from torch\.nn\.GroupN"
    ):
        translate_source(source, "norm.py")


def test_a_subclass_of_sequential_is_a_keras_sequential_given_its_layers():
    source = (
        "from torch import nn\n\n\n"
        "class Stack(nn.Sequential):\n"
        "    def __init__(self, d):\n"
        "        super().__init__(nn.Linear(d, d), nn.ReLU())\n"
    )
    code = translate_source(source, "stack.py")
    assert "class Stack(tf.keras.Sequential):" in code
    assert re.search(r"super\(\).__init__\(\s*\[\s*tf\.keras\.layers\.Dense\(", code)
