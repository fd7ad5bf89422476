"""Data: TensorDataset/DataLoader -> tf.data, tensors made from data, seeds, and the
statement-level constructs (``torch.no_grad()``, gradient clipping) the loops pass rewrites.
"""

from __future__ import annotations

import ast
from typing import Any

from torch2tf.rules.functional import dtype_name
from torch2tf.rules.registry import Unsupported, const, function, keras_call, src
from torch2tf.rules.training import (
    CLIP_NORM,
    CLIP_VALUE,
    DATA_LOADER,
    MISSING,
    STATEMENT,
    TENSOR_DATASET,
    given,
    literal_false,
    training_step,
)


def _dtype(dtype: Any) -> str | None:
    if not given(dtype) or const(dtype, MISSING) is None:
        return None
    text = src(dtype).strip()
    name = dtype_name(dtype)
    if name is not None:
        return name
    if const(dtype, MISSING) is not MISSING:  # a literal that is no dtype (a string...)
        raise Unsupported(f"dtype {text} is not translated", "write a torch dtype: torch.float32")
    return text  # an expression such as a variable holding a dtype (a tf.DType once translated)


def _literal_kind(value: Any) -> str | None:
    """'int', 'float' or 'bool' for a literal number or nested list of them, else None."""
    literal = const(value, MISSING)
    kinds: set[type] = set()

    def walk(item: Any) -> bool:
        if isinstance(item, (list, tuple)):
            return all(walk(i) for i in item)
        if isinstance(item, (bool, int, float)):
            kinds.add(type(item))
            return True
        return False

    if literal is MISSING or not walk(literal):
        return None
    if float in kinds:
        return "float"
    if int in kinds:
        return "int"
    return "bool" if kinds else "float"  # torch.tensor([]) is float32


def _from_data(name: str, data: Any, dtype: Any, requires_grad: Any) -> str:
    literal_false("requires_grad", requires_grad, "a tf.Variable is what the tape watches")
    target = _dtype(dtype)
    if target is None:
        kind = _literal_kind(data)
        if kind is None:  # torch's dtype inference, at run time
            return keras_call("torch_tensor", src(data))
        target = "tf.int64" if kind == "int" else None
    return keras_call("tf.constant", src(data), dtype=target)


@function(
    "torch.tensor",
    examples=(("x * torch.tensor([1.0, 2.0, 3.0])", "x * tf.constant([1.0, 2.0, 3.0])"),),
)
def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """-> tf.constant(data, dtype=...); torch_tensor(data) infers the dtype as torch does
    where data is not a literal."""
    return _from_data("torch.tensor", data, dtype, requires_grad)


def _typed_constructor(name: str, dtype: str) -> None:
    data = "[True, False]" if dtype == "tf.bool" else "[1, 0]" if "int" in dtype else "[0.5]"
    example = (f"x = {name}({data})", f"x = tf.constant({data}, dtype={dtype})")

    @function(name, examples=(example,))
    def legacy(*data):
        """-> tf.constant(data, dtype): the legacy typed constructor given data (its sizes
        form is uninitialised memory, translated only as an nn.Parameter's shape)."""
        if len(data) != 1:
            raise Unsupported(f"{name}(sizes) is uninitialised memory", "use torch.zeros(...)")
        return keras_call("tf.constant", src(data[0]), dtype=dtype)


for _legacy_name, _legacy_dtype in {
    "torch.Tensor": "tf.float32",
    "torch.FloatTensor": "tf.float32",
    "torch.DoubleTensor": "tf.float64",
    "torch.LongTensor": "tf.int64",
    "torch.IntTensor": "tf.int32",
    "torch.BoolTensor": "tf.bool",
}.items():
    _typed_constructor(_legacy_name, _legacy_dtype)


@function("torch.as_tensor", examples=(("x * torch.as_tensor(2.0)", "x * tf.constant(2.0)"),))
def as_tensor(data, dtype=None, device=None):
    """-> tf.constant(data, dtype=...): a copy (torch may share the NumPy memory)."""
    return _from_data("torch.as_tensor", data, dtype, False)


@function("torch.from_numpy", examples=(("x = torch.from_numpy(array)", "x = tf.constant(array)"),))
def from_numpy(ndarray):
    """-> tf.constant(array), the same dtype; a copy (torch shares the array's memory)."""
    return f"tf.constant({src(ndarray)})"


@function("torch.manual_seed", examples=(("torch.manual_seed(0)", "tf.random.set_seed(0)"),))
def manual_seed(seed):
    """-> tf.random.set_seed: reproducible runs; the random numbers differ from torch's."""
    return f"tf.random.set_seed({src(seed)})"


@function(
    TENSOR_DATASET,
    examples=(
        (
            "dataset = torch.utils.data.TensorDataset(x, y)",
            "dataset = tf.data.Dataset.from_tensor_slices((x, y))",
        ),
    ),
)
def tensor_dataset(*tensors):
    """-> tf.data.Dataset.from_tensor_slices((a, b, ...)): the same rows, in tuples."""
    if not tensors or any(str(t).startswith("*") for t in tensors):
        raise Unsupported("TensorDataset is translated with its tensors listed one by one")
    items = ", ".join(src(t) for t in tensors)
    return (
        f"tf.data.Dataset.from_tensor_slices(({items},))"
        if len(tensors) == 1
        else (f"tf.data.Dataset.from_tensor_slices(({items}))")
    )


_SLICES = "tf.data.Dataset.from_tensor_slices("


def _first_tensor(dataset: str) -> str | None:
    """``X`` in ``tf.data.Dataset.from_tensor_slices((X, y))``."""
    try:
        node = ast.parse(dataset, mode="eval").body
    except SyntaxError:
        return None
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Tuple):
        return ast.get_source_segment(dataset, node.args[0].elts[0])
    return None


@function(
    DATA_LOADER,
    examples=(
        (
            "loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), "
            "batch_size=32, shuffle=True)",
            "loader = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x)).batch(32)",
        ),
    ),
)
def data_loader(
    dataset,
    batch_size=1,
    shuffle=None,
    sampler=None,
    batch_sampler=None,
    num_workers=0,
    collate_fn=None,
    pin_memory=False,
    drop_last=False,
    timeout=0,
    worker_init_fn=None,
    multiprocessing_context=None,
    generator=None,
    *,
    prefetch_factor=None,
    persistent_workers=False,
    pin_memory_device="",
    in_order=True,
):
    """-> dataset[.shuffle(n)].batch(b): torch's batches; a shuffled order differs from torch's."""
    for name, value in (
        ("sampler", sampler),
        ("batch_sampler", batch_sampler),
        ("collate_fn", collate_fn),
        ("worker_init_fn", worker_init_fn),
    ):
        if const(value, MISSING) is not None:
            raise Unsupported(f"DataLoader({name}=...) is not translated")
    if const(generator, MISSING) is not None:
        raise Unsupported(
            "DataLoader(generator=...) is not translated: TensorFlow's shuffled order differs "
            "from torch's whatever the seed",
            "drop generator= and seed with torch.manual_seed (-> tf.random.set_seed)",
        )
    if const(batch_size, MISSING) is None:
        raise Unsupported("DataLoader(batch_size=None) (no batching) is not translated")
    data = src(dataset).strip()
    if data.startswith(_SLICES):
        size = _first_tensor(data)
        if size is None:
            raise Unsupported("cannot read the dataset's tensors")
        count = f"len({size})"
    elif data.isidentifier():
        count = f"len({data})"
    else:
        raise Unsupported(
            f"DataLoader is translated over a TensorDataset; received {data}",
            "wrap in-memory tensors in TensorDataset(X, y)",
        )
    flag = const(shuffle, MISSING)
    if flag in (None, False):
        pipeline = data
    elif flag is True:
        pipeline = f"{data}.shuffle({count})"
    elif data.isidentifier():
        pipeline = f"({data}.shuffle({count}) if {src(shuffle)} else {data})"
    else:
        raise Unsupported(
            "DataLoader(shuffle=<expression>) is translated over a dataset held in a variable",
            "assign TensorDataset(...) to a name first",
        )
    drop = const(drop_last, MISSING)
    if drop is False:
        return f"{pipeline}.batch({src(batch_size)})"
    return f"{pipeline}.batch({src(batch_size)}, drop_remainder={src(drop_last)})"


# --------------------------------------------------------------------------- statements


def _statement(qualified: str, **arguments: Any) -> str:
    return keras_call(STATEMENT, repr(qualified), **{k: src(v) for k, v in arguments.items()})


@function(
    CLIP_NORM,
    examples=training_step(
        clip="torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)",
        clipping=", global_clipnorm=1.0",
    ),
)
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """-> the optimizer's global_clipnorm (torch's formula), set where it is built."""
    if const(norm_type, MISSING) not in (2, 2.0):
        raise Unsupported(f"clip_grad_norm_(norm_type={src(norm_type)}) is not translated")
    literal_false("error_if_nonfinite", error_if_nonfinite)
    return _statement(CLIP_NORM, parameters=parameters, max_norm=max_norm)


@function(
    CLIP_VALUE,
    examples=training_step(
        clip="torch.nn.utils.clip_grad_value_(model.parameters(), 0.5)", clipping=", clipvalue=0.5"
    ),
)
def clip_grad_value_(parameters, clip_value, foreach=None):
    """-> the optimizer's clipvalue, set where it is built."""
    return _statement(CLIP_VALUE, parameters=parameters, clip_value=clip_value)


@function(
    "torch.no_grad",
    examples=(("with torch.no_grad(): y = model(x)", "y = model(x, training=True)"),),
)
def no_grad():
    """`with torch.no_grad():` -> nothing (no tape records there), or tape.stop_recording()."""
    return _statement("torch.no_grad")


@function(
    "torch.inference_mode",
    examples=(("with torch.inference_mode(): y = model(x)", "y = model(x, training=True)"),),
)
def inference_mode(mode=True):
    """`with torch.inference_mode():` -> as torch.no_grad()."""
    if const(mode, MISSING) is not True:
        raise Unsupported(f"torch.inference_mode({src(mode)}) is not translated")
    return _statement("torch.inference_mode")
