"""The project's own init functions read where called, and in-place elementwise ops after an
init (``w.uniform_(l, u); w.erfinv_(); w.mul_(s); w.add_(m); w.clamp_(a, b)``: torch's
trunc_normal_ algorithm as projects copy it) -> ``TorchInPlace(<init>, <ops>)``."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

import torch2tf
from torch2tf import TranslationError, translate_source
from torch2tf.generated import load_generated
from torch2tf.translate import translate_project

TRUNC = '''
def truncated(tensor, mean, std, a, b):
    """torch's trunc_normal_ algorithm, in place."""

    def norm_cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn("mean is more than 2 std from [a, b]", stacklevel=2)

    with torch.no_grad():
        low = norm_cdf((a - mean) / std)
        high = norm_cdf((b - mean) / std)
        tensor.uniform_(2 * low - 1, 2 * high - 1)
        tensor.erfinv_()
        tensor.mul_(std * math.sqrt(2.0))
        tensor.add_(mean)
        tensor.clamp_(min=a, max=b)
        return tensor
'''

HEADER = "import math\nimport warnings\n\nimport torch\nimport torch.nn as nn\n"

SAME_FILE = (
    HEADER
    + TRUNC
    + """

class Head(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc = nn.Linear(d, d)
        self.out = nn.Linear(d, 2)
        self.apply(self._init)

    def _init(self, m):
        if isinstance(m, nn.Linear):
            truncated(m.weight, mean=0.0, std=0.3, a=-0.4, b=0.4)
            nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.out(torch.relu(self.fc(x)))
"""
)


def _torch_class(source: str, name: str):
    namespace: dict = {}
    exec(compile(source, "<torch source>", "exec"), namespace)  # our own test source
    return namespace[name]


def test_an_in_place_trunc_normal_function_becomes_the_same_distribution():
    code = translate_source(SAME_FILE, "head.py")
    assert "def truncated" not in code  # every use became initializers
    low = 2 * (1 + math.erf(-0.4 / 0.3 / math.sqrt(2))) / 2 - 1
    flat = "".join(code.split())
    ops = '[("erfinv",),("mul",0.4242640687119285),("add",0.0),("clamp",-0.4,0.4)'
    assert f"TorchInPlace(tf.keras.initializers.RandomUniform({low!r},{-low!r}),{ops}" in flat
    tf_module = load_generated(code, "head_tf")
    tf_module.tf.keras.utils.set_random_seed(0)
    kernel = np.asarray(tf_module.Head(300).fc.kernel)
    torch.manual_seed(0)
    weight = _torch_class(SAME_FILE, "Head")(300).fc.weight.detach().numpy()
    assert np.abs(kernel).max() <= 0.4 and np.abs(weight).max() <= 0.4
    assert kernel.std() == pytest.approx(weight.std(), rel=0.02)
    assert stats.ks_2samp(kernel.ravel(), weight.ravel()).pvalue > 1e-3


def _project(tmp_path: Path) -> Path:
    package = tmp_path / "heads_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "utils.py").write_text(HEADER + TRUNC, encoding="utf-8")
    (package / "model.py").write_text(
        "import torch.nn as nn\n\nfrom heads_pkg import utils\n\n\n"
        "class Head(nn.Module):\n"
        "    def __init__(self, d):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(d, 2)\n"
        "        self.reset_parameters()\n\n"
        "    def reset_parameters(self):\n"
        "        utils.truncated(self.fc.weight, 0.0, 0.02, -2.0, 2.0)\n\n"
        "    def forward(self, x):\n"
        "        return self.fc(x)\n",
        encoding="utf-8",
    )
    return package


def test_an_init_function_of_another_file_is_read_there_and_left_out_of_it(tmp_path):
    package = _project(tmp_path)
    outputs = translate_project(tmp_path)
    model = outputs[Path("heads_pkg/model.py")]
    flat = "".join(model.split())
    assert "TorchInPlace(tf.keras.initializers.RandomUniform(" in flat
    assert '("clamp",-2.0,2.0)' in flat and "def reset_parameters" not in model
    assert "def truncated" not in outputs[Path("heads_pkg/utils.py")]
    code = torch2tf.translate_file(package / "model.py", classes=["Head"])
    assert "TorchInPlace(" in code


def test_converting_a_class_using_it_matches_torch(tmp_path, monkeypatch):
    _project(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    from heads_pkg.model import Head

    torch.manual_seed(0)
    result = torch2tf.convert(Head(8), args=(8,))
    assert result.passed, result.table()
    assert [c.mode for c in result.checks] == ["eval", "train"]


def test_an_in_place_op_without_an_init_before_it_is_refused():
    source = (
        "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.fc = nn.Linear(3, 3)\n"
        "        self.reset_parameters()\n\n    def reset_parameters(self):\n"
        "        nn.init.zeros_(self.fc.bias)\n        self.fc.weight.data.mul_(0.1)\n"
    )
    with pytest.raises(TranslationError, match=r"net.py:12:9: .*mul_\(\) of self.fc.weight"):
        translate_source(source, "net.py")


def test_a_value_of_another_files_function_that_is_no_number_is_refused(tmp_path):
    package = _project(tmp_path)
    model = package / "model.py"
    model.write_text(
        model.read_text(encoding="utf-8").replace("0.0, 0.02,", "0.0, self.fc.in_features,"),
        encoding="utf-8",
    )
    with pytest.raises(
        TranslationError,
        match=r"model.py:13:9: error: in truncated\(\) \(heads_pkg/utils.py:\d+:\d+\): the value",
    ):
        translate_project(tmp_path)


BASE_AND_HEAD = """
import torch.nn as nn


class Base(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(d, d), nn.ReLU())


class Head(Base):
    def __init__(self, d):
        super().__init__(d)
        self.apply(self._init)
        self.last = nn.Linear(d, 2)

    def _init(self, m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, x):
        return self.last(self.layers(x))
"""


def test_apply_reaching_the_layers_of_a_base_class_runs_on_the_keras_layers(tmp_path, monkeypatch):
    code = translate_source(BASE_AND_HEAD, "heads.py")
    assert "for m in torch_modules(self):" in code
    assert 'torch_init(m, "kernel", tf.keras.initializers.RandomNormal(0.0, 0.02))' in code
    assert "return self.last(self.layers_(x" in code  # the base's Keras-safe name
    generated = load_generated(code, "heads_tf")
    generated.tf.keras.utils.set_random_seed(0)
    model = generated.Head(200)
    model(generated.tf.zeros((1, 200)))
    assert np.asarray(model.layers_.layers[0].kernel).std() == pytest.approx(0.02, rel=0.02)
    last = np.asarray(model.last.kernel).std()  # made after apply: torch's default U(+-1/sqrt(d))
    assert last == pytest.approx(1 / math.sqrt(3 * 200), rel=0.1)
    (tmp_path / "heads_mod.py").write_text(BASE_AND_HEAD, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    from heads_mod import Head

    torch.manual_seed(0)
    result = torch2tf.convert(Head(8), args=(8,))
    assert result.passed, result.table()


def test_a_parameters_loop_reaching_the_layers_of_a_base_class_is_refused():
    source = BASE_AND_HEAD.replace(
        "self.apply(self._init)", "for p in self.parameters():\n            nn.init.zeros_(p)"
    )
    with pytest.raises(TranslationError, match=r"heads.py:14:9: .*base class Base builds"):
        translate_source(source, "heads.py")


ENSEMBLE = """
import torch
import torch.nn as nn
from torch import Tensor
from torch.nn.parameter import Parameter

_MESSAGE = "internal error"


def _init_rsqrt_uniform_(tensor: Tensor, d: int) -> Tensor:
    assert d > 0, _MESSAGE
    d_rsqrt = d**-0.5
    return nn.init.uniform_(tensor, -d_rsqrt, d_rsqrt)


class LinearEnsemble(nn.Module):
    def __init__(self, in_features: int, out_features: int, *, k: int) -> None:
        super().__init__()
        self.weight = Parameter(torch.empty(k, in_features, out_features))
        self.bias = Parameter(torch.empty(k, out_features))
        self.reset_parameters()

    @property
    def in_features(self) -> int:
        return self.weight.shape[-2]

    def reset_parameters(self):
        d = self.in_features
        _init_rsqrt_uniform_(self.weight, d)
        _init_rsqrt_uniform_(self.bias, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(0, 1)
        x = x @ self.weight
        x = x.transpose(0, 1)
        return x + self.bias
"""


def test_an_init_function_returning_its_init_with_an_assert_and_a_size_property(
    tmp_path, monkeypatch
):
    code = translate_source(ENSEMBLE, "ensemble.py")
    flat = "".join(code.split())
    assert (
        "initializer=tf.keras.initializers.RandomUniform(-(in_features**-0.5),(in_features**-0.5))"
        in flat
    )
    assert "assert in_features > 0, _MESSAGE" in code  # where torch checks it
    assert "def _init_rsqrt_uniform_" not in code and "def reset_parameters" not in code
    generated = load_generated(code, "ensemble_tf")
    weight = np.asarray(generated.LinearEnsemble(64, 100, k=4).weight)
    assert np.abs(weight).max() <= 1 / 8 and weight.std() == pytest.approx(
        1 / 8 / math.sqrt(3), rel=0.05
    )
    (tmp_path / "ensemble_mod.py").write_text(ENSEMBLE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    from ensemble_mod import LinearEnsemble

    torch.manual_seed(0)
    inputs = (torch.randn(16, 4, 8, generator=torch.Generator().manual_seed(0)),)
    result = torch2tf.convert(
        LinearEnsemble(8, 5, k=4), args=(8, 5), kwargs={"k": 4}, inputs=inputs
    )
    assert result.passed, result.table()


def test_an_assert_of_an_init_function_failing_for_known_numbers_is_refused():
    source = ENSEMBLE.replace(
        "_init_rsqrt_uniform_(self.bias, d)", "_init_rsqrt_uniform_(self.bias, -1)"
    )
    with pytest.raises(
        TranslationError,
        match=r"ensemble.py:11:5: error: this assert fails in torch here \(\(-1\) > 0 is False\)",
    ):
        translate_source(source, "ensemble.py")


OPTIONAL_BIAS = (
    ENSEMBLE.replace("*, k: int", "bias: bool = True, *, k: int")
    .replace(
        "        self.bias = Parameter(torch.empty(k, out_features))\n",
        "        self.register_parameter(\n            'bias',\n"
        "            Parameter(torch.empty(k, out_features)) if bias else None,\n        )\n",
    )
    .replace(
        "        _init_rsqrt_uniform_(self.bias, d)",
        "        if self.bias is not None:\n            _init_rsqrt_uniform_(self.bias, d)",
    )
    .replace(
        "        return x + self.bias",
        "        if self.bias is not None:\n            x = x + self.bias\n        return x",
    )
)


@pytest.mark.parametrize("bias", [True, False])
def test_register_parameter_of_an_optional_parameter(bias, tmp_path, monkeypatch):
    code = translate_source(OPTIONAL_BIAS, "optional.py")
    assert (
        "self.bias = (\n            self.add_weight(" in code
        and "if bias\n            else None" in code
    )
    assert "register_parameter" not in code
    assert code.count("assert in_features > 0, _MESSAGE") == 1  # the same check once
    (tmp_path / "optional_mod.py").write_text(OPTIONAL_BIAS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    from optional_mod import LinearEnsemble

    torch.manual_seed(0)
    model = LinearEnsemble(8, 5, bias, k=4)
    assert (model.bias is None) is not bias
    inputs = (torch.randn(16, 4, 8, generator=torch.Generator().manual_seed(0)),)
    result = torch2tf.convert(model, args=(8, 5, bias), kwargs={"k": 4}, inputs=inputs)
    assert result.passed, result.table()
