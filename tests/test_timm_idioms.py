"""timm's idioms (models/resnet.py and the layer factories it calls) on small models of our
own, each converted and checked against torch in eval and train mode, or refused precisely."""

from __future__ import annotations

import importlib

import pytest
import tensorflow as tf
import torch
from layer_harness import HEADER, convert_checked, load_module
from test_cnn import images
from test_cnn_idioms import net

import torch2tf
from torch2tf.errors import TranslationError
from torch2tf.generated import load_generated
from torch2tf.translate import translate_source

FACTORY_BLOCK = (
    HEADER
    + '''

class Blur(nn.Module):
    """An anti-aliasing layer of the project, made by the factory when asked."""

    def __init__(self, channels=None, stride=2):
        super().__init__()
        self.pool = nn.AvgPool2d(3, stride=2, padding=1)

    def forward(self, x):
        return self.pool(x)


def create_aa(aa_layer, channels=None, stride=2, enable=True, noop=nn.Identity):
    """timm's create_aa: a noop layer, None, or the layer class passed in."""
    if not aa_layer or not enable:
        return noop() if noop is not None else None
    return aa_layer(channels=channels, stride=stride)


class Block(nn.Module):
    def __init__(self, drop_block=None, aa_layer=None, act_layer=nn.ReLU):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.drop_block = drop_block() if drop_block is not None else nn.Identity()
        self.act1 = act_layer(inplace=True)
        self.aa = create_aa(aa_layer, channels=8, stride=2)
        self.conv2 = nn.Conv2d(8, 4, 3, padding=1, bias=False)

    def forward(self, x):
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.drop_block(x)
        x = self.act1(x)
        x = self.aa(x)
        x = self.conv2(x)
        return torch.flatten(x, 1)
'''
)


def _checked(tmp_path, source, inputs, name, **kwargs):
    """convert_checked, with constructor arguments taken from the loaded module by name."""
    module = load_module(tmp_path, source)
    torch.manual_seed(0)
    built = {k: getattr(module, v) for k, v in kwargs.items()}
    model = getattr(module, name)(**built)
    with torch.no_grad():  # weights and statistics away from their initial ones and zeros
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)
        model.train()
        for _ in range(2):
            model(inputs)
    model.eval()
    conversion = torch2tf.convert(model, (), built, inputs=inputs)
    assert [c.mode for c in conversion.checks] == ["eval", "train"]
    assert conversion.passed, conversion.table()
    return conversion


@pytest.mark.parametrize("aa", [None, "Blur"])
def test_layers_a_conditional_or_a_factory_builds_keep_the_map(tmp_path, aa):
    """``drop_block() if drop_block is not None else nn.Identity()`` and a factory returning
    ``noop()`` or the class passed in: each branch's layer, followed like an ``if``'s."""
    kwargs = {"aa_layer": aa} if aa else {}
    conversion = _checked(tmp_path, FACTORY_BLOCK, images(3, 8), "Block", **kwargs)
    code = conversion.source
    assert "drop_block() if drop_block is not None else tf.keras.layers.Identity()" in code
    assert "self.aa = create_aa(aa_layer, channels=8, stride=2)" in code
    assert "tf.transpose" not in code


ATTN_LAYERS = (
    HEADER
    + '''

class SE(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.fc = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.fc(x))


def get_attn(attn_type):
    return SE if attn_type == "se" else None


def create_attn(attn_type, channels, **kwargs):
    """timm's create_attn: the class a lookup gives, built, or None."""
    module_cls = get_attn(attn_type)
    if module_cls is not None:
        return module_cls(channels, **kwargs)
    return None
'''
)

ATTN_MODEL = (
    HEADER
    + """from .layers import create_attn


class Block(nn.Module):
    def __init__(self, attn_layer=None):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.se = create_attn(attn_layer, 4)

    def forward(self, x):
        x = self.conv(x)
        if self.se is not None:
            x = self.se(x)
        return x
"""
)


@pytest.mark.parametrize("attn", [None, "se"])
def test_a_factory_of_another_file_building_a_looked_up_class(tmp_path, monkeypatch, attn):
    """``self.se = create_attn(attn_layer, 4)`` of another project file, returning
    ``module_cls(channels)`` (a local the lookup set) or None: a module keeping the map."""
    package = tmp_path / f"attnpkg_{attn}"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "layers.py").write_text(ATTN_LAYERS)
    (package / "model.py").write_text(ATTN_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(f"attnpkg_{attn}.model")
    torch.manual_seed(0)
    model = module.Block(attn_layer=attn).eval()
    conversion = torch2tf.convert(model, (), {"attn_layer": attn}, inputs=images(3, 6))
    assert conversion.passed, conversion.table()
    assert "self.se = create_attn(attn_layer, 4)" in conversion.source
    assert (model.se is None) == (attn is None)


DEEP_STEM = (
    HEADER
    + """

class Net(nn.Module):
    def __init__(self, deep=True, act_layer=nn.ReLU):
        super().__init__()
        if deep:
            self.conv1 = nn.Sequential(*[
                nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(4),
                act_layer(inplace=True),
                nn.Conv2d(4, 8, 3, padding=1, bias=False)])
        else:
            self.conv1 = nn.Conv2d(3, 8, 7, stride=2, padding=3, bias=False)
        self.maxpool = nn.Sequential(*[nn.MaxPool2d(3, stride=1, padding=1), act_layer()])

    def forward(self, x):
        x = self.conv1(x)
        x = self.maxpool(x)
        return torch.flatten(x, 1)
"""
)


@pytest.mark.parametrize("deep", [False, True])
def test_a_sequential_of_a_starred_list_literal_is_its_layers(tmp_path, deep):
    """timm's deep stem ``nn.Sequential(*[conv, norm, act, conv])``: the layers listed, in
    order, as ``nn.Sequential(conv, norm, act, conv)``."""
    conversion = convert_checked(tmp_path, DEEP_STEM, images(3, 8), kwargs={"deep": deep})
    assert "tf.transpose" not in conversion.source


FEATURE_CHECKS = net(
    """
    self.fc = nn.Linear(6, 4)
    self.act = nn.SiLU() if HAS_SILU and not HAS_NOTHING else nn.ReLU()
    """,
    """
    return self.act(self.fc(x)) if HAS_RMS or NO_MISH else self.fc(x)
    """,
).replace(
    "\n\nclass Net",
    "\n\nHAS_SILU = 'silu' in dir(torch.nn.functional)\n"
    "NO_MISH = 'mish' not in dir(F)\n"
    "HAS_RMS = hasattr(F, 'rms_norm')\n"
    "HAS_NOTHING = hasattr(torch.nn, 'NoSuchLayer')\n\n\nclass Net",
    1,
)


def test_checks_of_what_torch_provides_are_the_installed_torch_s_answers(tmp_path):
    """timm's ``_has_silu = 'silu' in dir(torch.nn.functional)`` and ``hasattr(F, ...)``:
    facts of the installed torch, written as the literals they evaluate to."""
    conversion = convert_checked(tmp_path, FEATURE_CHECKS, torch.randn(3, 6))
    code = conversion.source
    assert "HAS_SILU = True" in code
    assert "NO_MISH = False" in code
    assert f"HAS_RMS = {hasattr(torch.nn.functional, 'rms_norm')}" in code
    assert "HAS_NOTHING = False" in code
    assert "tf.keras.layers.Activation" in code or "silu" in code


ASSERTED = (
    HEADER
    + """
try:
    from torch import _assert
except ImportError:
    def _assert(condition: bool, message: str):
        assert condition, message


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        _assert(x.shape[1] == 6, "six features")
        return self.fc(x)
"""
)


def test_torch_assert_imported_with_a_fallback_stops_the_same_calls(tmp_path):
    """timm's trace_utils: ``from torch import _assert`` (a fallback defined when torch has
    none): tf.debugging.Assert, which stops a call whose condition fails."""
    conversion = convert_checked(tmp_path, ASSERTED, torch.randn(3, 6))
    assert 'tf.debugging.Assert(tf.keras.ops.shape(x)[1] == 6, ["six features"])' in (
        conversion.source
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="six features"):
        conversion.keras_model.call(tf.zeros((2, 5)))


SELECTED_POOL = (
    HEADER
    + """

class FastAdaptiveAvgPool(nn.Module):
    def __init__(self, flatten=False, input_fmt="NCHW"):
        super().__init__()
        self.flatten = flatten
        self.dim = (2, 3) if input_fmt == "NCHW" else (1, 2)

    def forward(self, x):
        return x.mean(self.dim, keepdim=not self.flatten)


class SelectAdaptivePool2d(nn.Module):
    def __init__(self, output_size=1, pool_type="avg", flatten=False):
        super().__init__()
        if pool_type.startswith("fast"):
            self.pool = FastAdaptiveAvgPool(flatten)
        elif pool_type == "max":
            self.pool = nn.AdaptiveMaxPool2d(output_size)
        elif pool_type == "avg":
            self.pool = nn.AdaptiveAvgPool2d(output_size)
        else:
            assert False, "Invalid pool type: %s" % pool_type
        self.flatten = nn.Flatten(1) if flatten else nn.Identity()

    def forward(self, x):
        x = self.pool(x)
        x = self.flatten(x)
        return x


class Net(nn.Module):
    def __init__(self, output_size=1, pool_type="avg"):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.global_pool = SelectAdaptivePool2d(output_size, pool_type, flatten=True)
        self.fc = nn.Linear(4 * output_size * output_size, 2)

    def forward(self, x):
        x = self.conv(x)
        x = self.global_pool(x)
        return self.fc(x)
"""
)


@pytest.mark.parametrize(("size", "kind"), [(1, "avg"), (2, "max"), (3, "avg")])
def test_adaptive_pooling_of_a_size_known_when_built_and_a_flatten_the_model_took(
    tmp_path, size, kind
):
    """timm's SelectAdaptivePool2d: ``nn.AdaptiveAvgPool2d(output_size)`` of a parameter
    (global pooling for 1, Keras's adaptive pooling else, chosen when built), and
    ``nn.Flatten(1) if flatten else nn.Identity()``, whose branches give other layouts, and
    a pool of a branch the tensor facts refuse (``x.mean(self.dim)``, dims set when built):
    the live model's branch decides their facts; the source alone cannot."""
    kwargs = {"output_size": size, "pool_type": kind}
    conversion = convert_checked(tmp_path, SELECTED_POOL, images(3, 9), kwargs=kwargs)
    code = conversion.source
    kind_name = "Max" if kind == "max" else "Average"
    assert f'torch_adaptive_pooling(output_size, "{kind_name}", 2' in code
    assert "tf.keras.layers.Flatten() if flatten else tf.keras.layers.Identity()" in code
    with pytest.raises(TranslationError, match="self.(pool|flatten)"):
        translate_source(SELECTED_POOL)


NAMED_MODULES_INIT = net(
    """
    self.conv = nn.Conv2d(3, 32, 3)
    self.bn = norm_layer(32)
    self.act = act_layer(inplace=True)
    for n, m in self.named_modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    """,
    """
    return torch.flatten(self.act(self.bn(self.conv(x))), 1)
    """,
    params=", norm_layer=nn.BatchNorm2d, act_layer=nn.ReLU",
)


def test_an_init_loop_over_named_modules_reaching_layers_classes_passed_in_build(tmp_path):
    """timm's ResNet.init_weights: ``for n, m in self.named_modules(): if isinstance(m,
    nn.Conv2d): kaiming_normal_(...)`` over layers ``norm_layer()``/``act_layer()`` build:
    the loop run on the Keras layers (the name unused), which draws torch's distribution."""
    conversion = convert_checked(tmp_path, NAMED_MODULES_INIT, images(3, 6))
    assert "for m in torch_modules(self):" in conversion.source
    tf.keras.utils.set_random_seed(0)
    fresh = type(conversion.keras_model)()
    fresh(tf.zeros((1, 6, 6, 3)))
    kernel = next(w for w in fresh.weights if "kernel" in w.path).numpy()
    fan_out = 32 * 3 * 3
    assert abs(kernel.std() / (2.0 / fan_out) ** 0.5 - 1) < 0.06  # torch's default: 1.33


ADDED_STAGES = (
    HEADER
    + """

class Block(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.conv(x)) + x


def make_stages(channels, depth):
    stages = []
    for index, count in enumerate(channels):
        blocks = [Block(count) for _ in range(depth)]
        stages.append((f"layer{index + 1}", nn.Sequential(*blocks)))
    return stages


class Net(nn.Module):
    def __init__(self, depth=2):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3)
        for stage in make_stages((4, 4), depth):
            self.add_module(*stage)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer1(x)
        x = self.layer2(x)
        return torch.flatten(x, 1)
"""
)


def test_modules_added_under_names_a_function_computes(tmp_path):
    """timm's ``for stage in stage_modules: self.add_module(*stage)`` (names made in
    make_blocks) and ``self.layer1(x)`` in forward: torch_add_module with the pair; the
    live model holds the modules, taken to keep the map and checked layer by layer. The
    source alone cannot place them."""
    conversion = convert_checked(tmp_path, ADDED_STAGES, images(3, 7))
    assert "torch_add_module(self, *stage)" in conversion.source
    with pytest.raises(TranslationError, match="feature map passed to a function"):
        translate_source(ADDED_STAGES)


FILTERED_STEM = (
    HEADER
    + """

class Blur(nn.Module):
    def __init__(self, channels=None, stride=2):
        super().__init__()
        self.pool = nn.AvgPool2d(3, stride=2, padding=1)

    def forward(self, x):
        return self.pool(x)


class Net(nn.Module):
    def __init__(self, replace_pool=True, aa_layer=None):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        if replace_pool:
            self.maxpool = nn.Sequential(*filter(None, [
                nn.Conv2d(4, 4, 3, stride=1 if aa_layer else 2, padding=1, bias=False),
                aa_layer(channels=4, stride=2) if aa_layer is not None else None,
                nn.BatchNorm2d(4),
                nn.ReLU(inplace=True),
            ]))
        else:
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        return torch.flatten(x, 1)
"""
)


@pytest.mark.parametrize(
    "kwargs", [{}, {"aa_layer": "Blur"}, {"replace_pool": False}], ids=["plain", "aa", "pool"]
)
def test_a_sequential_of_layers_filtered_of_nones(tmp_path, kwargs):
    """timm's replaced stem pool ``nn.Sequential(*filter(None, [conv, aa(...) if aa_layer is
    not None else None, norm, act]))``: the Sequential with and without the optional layer,
    as the branches of an ``if`` (the later layers' indices move)."""
    values = {k: v for k, v in kwargs.items() if k != "aa_layer"}
    conversion = (
        _checked(tmp_path, FILTERED_STEM, images(3, 8), "Net", **kwargs)
        if ("aa_layer" in kwargs)
        else convert_checked(tmp_path, FILTERED_STEM, images(3, 8), kwargs=values)
    )
    assert "*filter(" in conversion.source
    assert "tf.transpose" not in conversion.source


NORM_REGISTRY = (
    HEADER
    + """
_NORM_MAP = dict(batchnorm1d=nn.BatchNorm1d, layernorm=nn.LayerNorm)


class Net(nn.Module):
    def __init__(self, norm="batchnorm1d"):
        super().__init__()
        self.fc = nn.Linear(6, 8)
        self.norm = _NORM_MAP[norm](8)

    def forward(self, x):
        return self.norm(self.fc(x))
"""
)


def test_batchnorm1d_as_a_registry_value_takes_flat_input_only(tmp_path):
    """timm's create_norm ``_NORM_MAP = dict(batchnorm1d=nn.BatchNorm1d, ...)``: its Keras
    form depends on the input's layout, which a value does not know; exact on (N, C), where
    both agree, and refused when built on anything longer."""
    conversion = convert_checked(tmp_path, NORM_REGISTRY, torch.randn(5, 6))
    assert "batchnorm1d=nn_batchnorm1d" in conversion.source
    generated = load_generated(conversion.source, "norm_registry_keras")
    layer = generated.nn_batchnorm1d(4)
    with pytest.raises(ValueError, match="given a 3-D input"):
        layer(tf.zeros((2, 4, 3)))


def test_a_torch_name_redefined_outside_an_import_fallback_stays_refused():
    """Only a fallback in an ``except`` of the import is the same function; a top-level
    ``def _assert`` after ``from torch import _assert`` rebinds the name: refused there."""
    source = ASSERTED.replace(
        "try:\n    from torch import _assert\nexcept ImportError:\n    def _assert",
        "from torch import _assert\n\n\ndef _assert",
    ).replace("\n        assert condition, message", "\n    assert condition, message")
    assert "except" not in source
    with pytest.raises(TranslationError, match=r"torch\._assert"):
        translate_source(source)


INIT_METHODS = (
    HEADER
    + """

class Block(nn.Module):
    def __init__(self, channels, norm_layer=nn.BatchNorm2d):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = norm_layer(channels)
        self.act = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = norm_layer(channels)

    def zero_init_last(self):
        if getattr(self.bn2, "weight", None) is not None:
            nn.init.zeros_(self.bn2.weight)

    def forward(self, x):
        shortcut = x
        x = self.act(self.bn1(self.conv1(x)))
        return self.act(self.bn2(self.conv2(x)) + shortcut)


class Net(nn.Module):
    def __init__(self, zero_init_last=True, depth=2):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.layer1 = nn.Sequential(*[Block(8) for _ in range(depth)])
        self.fc = nn.Linear(8, 4)
        self.init_weights(zero_init_last=zero_init_last)

    def init_weights(self, zero_init_last: bool = True):
        for n, m in self.named_modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if zero_init_last:
            for m in self.modules():
                if hasattr(m, "zero_init_last"):
                    m.zero_init_last()

    def forward(self, x):
        x = self.layer1(self.conv1(x))
        return self.fc(x.mean((2, 3)))
"""
)


def _gammas_and_kernels(model) -> tuple[list, list]:
    """The last BatchNorm gamma of each block and every conv kernel of the Keras Net."""
    blocks = model.layer1.layers
    gammas = [block.bn2.gamma.numpy() for block in blocks]
    convs = [model.conv1] + [c for b in blocks for c in (b.conv1, b.conv2)]
    return gammas, [conv.kernel.numpy() for conv in convs]


@pytest.mark.parametrize("zero", [True, False])
def test_init_methods_with_arguments_and_hasattr_method_calls(tmp_path, zero):
    """timm's ResNet: ``self.init_weights(zero_init_last=...)`` (a method __init__ calls with
    arguments) looping over ``self.named_modules()`` and, when asked, calling
    ``m.zero_init_last()`` on the modules that have it (``hasattr``), a method of the block
    zeroing the gamma of a norm layer of a class passed in. Kept as methods: the loops run on
    the Keras layers, zero_init_last on its own layer (the live model tells which layer it
    is); a fresh Keras model draws torch's init."""
    conversion = _checked(tmp_path, INIT_METHODS, images(3, 6), "Net")
    assert conversion.passed
    code = conversion.source
    assert "self.init_weights(zero_init_last=zero_init_last)" in code
    assert 'if hasattr(m, "zero_init_last"):\n' in code
    assert 'torch_init(self.bn2, "gamma", tf.keras.initializers.Zeros())' in code
    torch_model = load_module(tmp_path, INIT_METHODS).Net(zero_init_last=zero)
    torch_gammas = [b.bn2.weight.detach().numpy() for b in torch_model.layer1]
    tf.keras.utils.set_random_seed(0)
    fresh = type(conversion.keras_model)(zero_init_last=zero)
    fresh(tf.zeros((1, 6, 6, 3)))
    gammas, kernels = _gammas_and_kernels(fresh)
    assert len(gammas) == len(torch_gammas) == 2
    for ours, theirs in zip(gammas, torch_gammas, strict=True):
        assert (ours == 0).all() == zero == (theirs == 0).all()
        assert ((ours == 1).all() and (theirs == 1).all()) == (not zero)
    for kernel in kernels:  # kaiming_normal_(mode="fan_out"): std sqrt(2 / fan_out)
        fan_out = kernel.shape[-1] * kernel.shape[0] * kernel.shape[1]
        assert abs(kernel.std() / (2.0 / fan_out) ** 0.5 - 1) < 0.15  # torch default: 0.41-0.67


def test_an_init_method_of_a_layer_passed_in_needs_the_live_model():
    """Without a live model, ``self.bn2 = norm_layer(c)`` is no layer the source tells:
    zero_init_last's init of its weight is refused there, not guessed."""
    with pytest.raises(TranslationError, match=r"init of self\.bn2: which layer"):
        translate_source(INIT_METHODS)


UNTAKEN_BRANCH = (
    HEADER
    + """from torch.utils.checkpoint import checkpoint_sequential


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.grad_checkpointing = False
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.layer1 = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())
        self.layer2 = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())

    def forward(self, x):
        x = self.conv(x)
        if self.grad_checkpointing and not torch.jit.is_scripting():
            x = checkpoint_sequential([self.layer1, self.layer2], 2, x, use_reentrant=False)
        else:
            x = self.layer1(x)
            x = self.layer2(x)
        return torch.flatten(x, 1)
"""
)


def test_a_branch_the_model_never_takes_holding_a_problem_raises(tmp_path):
    """timm's ``if self.grad_checkpointing ...: checkpoint_seq(...)``, a flag False when the
    model is built: the branch neither forward run of the live model took holds a problem, so
    it becomes a raise of that problem (listed as left out); the branch taken is checked
    layer by layer, and the other one raises if ever taken, never computes otherwise."""
    conversion = convert_checked(tmp_path, UNTAKEN_BRANCH, images(3, 6))
    assert "checkpoint_sequential" not in conversion.source.split("raise")[0]
    assert [e["kind"] for e in conversion.left_out] == ["branch"]
    model = conversion.keras_model
    model.grad_checkpointing = True
    with pytest.raises(NotImplementedError, match=r"checkpoint_sequential.* not translated"):
        model(tf.zeros((1, 6, 6, 3)))
    with pytest.raises(TranslationError, match="checkpoint_sequential"):
        translate_source(UNTAKEN_BRANCH)


DEVICE_DTYPE = (
    HEADER
    + """

class Net(nn.Module):
    def __init__(self, norm_layer=nn.BatchNorm2d, device=None, dtype=None):
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False, **dd)
        self.bn = norm_layer(4, **dd)

    def forward(self, x):
        return torch.flatten(self.bn(self.conv(x)), 1)
"""
)


def test_layers_built_with_device_and_dtype_none(tmp_path):
    """timm's ``dd = {'device': device, 'dtype': dtype}`` passed to every layer as ``**dd``:
    taken by the functions making a layer used as a value (``nn_batchnorm2d(4, **dd)``):
    the device places tensors only (ignored, as where a layer is built directly); a dtype
    other than None is refused, never ignored."""
    conversion = convert_checked(tmp_path, DEVICE_DTYPE, images(3, 6))
    generated = load_generated(conversion.source, "device_dtype_keras")
    assert isinstance(generated.nn_batchnorm2d(4, device=None, dtype=None), tf.keras.layers.Layer)
    with pytest.raises(ValueError, match=r"BatchNorm2d\(dtype=...\) other than None"):
        generated.nn_batchnorm2d(4, dtype="float64")


REEXPORTED_UTILS = """try:
    from torch import _assert
except ImportError:
    def _assert(condition: bool, message: str):
        assert condition, message
"""

REEXPORTED_MODEL = (
    HEADER
    + """from .utils import _assert


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        return self.fc(x)
"""
)


def test_an_unused_import_of_a_torch_name_another_file_imports_is_dropped(tmp_path, monkeypatch):
    """timm's ``from .trace_utils import _assert`` in a file whose users the model does not
    need: trace_utils's translation drops its ``from torch import _assert``, so the import is
    dropped with it (it would fail when the generated package is imported)."""
    package = tmp_path / "reexportpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "utils.py").write_text(REEXPORTED_UTILS)
    (package / "model.py").write_text(REEXPORTED_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("reexportpkg.model")
    torch.manual_seed(0)
    conversion = torch2tf.convert(module.Net().eval(), inputs=torch.randn(3, 6))
    assert conversion.passed, conversion.table()
    assert "_assert" not in conversion.source


POOLED_HEAD = SELECTED_POOL.replace(
    """    def forward(self, x):
        x = self.conv(x)
        x = self.global_pool(x)
        return self.fc(x)
""",
    """    def forward_head(self, x, pre_logits: bool = False):
        x = self.global_pool(x)
        return x if pre_logits else self.fc(x)

    def forward(self, x):
        return self.forward_head(self.conv(x))
""",
)


def test_a_map_pooled_to_one_by_one_and_flattened_is_a_plain_tensor(tmp_path):
    """timm's ``forward_head``: ``x if pre_logits else self.fc(x)`` after a pool whose
    output size is a parameter (1 in every pool the live model holds): flattened from 1x1,
    torch's and Keras's orders agree, so either branch is a plain tensor. The source alone
    does not tell the size, and a conditional expression over a flattened map is refused."""
    assert "x if pre_logits else self.fc(x)" in POOLED_HEAD
    kwargs = {"output_size": 1, "pool_type": "avg"}
    convert_checked(tmp_path, POOLED_HEAD, images(3, 9), kwargs=kwargs)
    with pytest.raises(TranslationError, match="not tracked yet"):
        convert_checked(tmp_path, POOLED_HEAD, images(3, 9), kwargs={**kwargs, "output_size": 2})
