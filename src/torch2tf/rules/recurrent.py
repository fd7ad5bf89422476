"""torch.nn recurrent layers -> the TorchLSTM/TorchGRU/TorchRNN helpers, with their weight mapping.

The helper takes torch's constructor and call (``lstm(x, (h0, c0))``) and returns torch's
structure and layout, so forward code using ``out[:, -1]``, ``h_n[-1]`` or
``torch.cat((h_n[-2], h_n[-1]), 1)`` is translated as written. Each layer and direction is one
Keras RNN: a fused Keras LSTM/GRU/SimpleRNN when there is no bias (exact, trains alike), else a
Keras RNN over a cell keeping torch's two trainable biases (a summed bias is exact in eval mode
only: under SGD the sum would move at twice torch's rate).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported where weights move: translating never needs it
    import numpy as np

from torch2tf.rules.functional import given
from torch2tf.rules.layers import _array, _no_dtype
from torch2tf.rules.registry import (
    Arg,
    LayerRule,
    Unsupported,
    const,
    function,
    keras_call,
    layer,
    src,
)


def _flag(value: Any, default: bool) -> str | None:
    """Source of a flag argument, None at torch's default; the helper reads it when it runs."""
    return None if const(value, None) is default else src(value)


def _gru_to_keras(array: np.ndarray) -> np.ndarray:
    """torch's GRU gate blocks (r, z, n) on the last axis -> Keras's (z, r, n)."""
    import numpy as np

    r, z, n = np.split(array, 3, axis=-1)
    return np.concatenate([z, r, n], axis=-1)


class _Recurrent(LayerRule):
    helper: str
    takes_training = True  # dropout between stacked layers
    # torch's parameter kinds (each of every layer and direction: weight_ih_l0, ..._reverse)
    # -> the helper's arguments; its variables are in Keras's layout, as a Dense kernel
    initializers = {
        "weight_ih": "kernel_initializer",
        "weight_hh": "recurrent_initializer",
        "bias_ih": "bias_ih_initializer",
        "bias_hh": "bias_hh_initializer",
        "weight_hr": "projection_initializer",
    }

    def rank_sensitive(self, arguments):
        return True  # a sequence (B, T, F) or (T, B, F), never a 2-D batch

    def _keras(
        self,
        name,
        input_size,
        hidden_size,
        num_layers,
        bias,
        batch_first,
        dropout,
        bidirectional,
        proj_size=0,
        nonlinearity=None,
    ):
        rate = const(dropout, None)
        if rate is not None and not (isinstance(rate, (int, float)) and 0 <= rate < 1):
            raise Unsupported(f"{name}(dropout={src(dropout)}) is not translated: needs 0 <= p < 1")
        layers = const(num_layers, None)
        if layers is not None and not (isinstance(layers, int) and layers >= 1):
            raise Unsupported(f"{name}(num_layers={src(num_layers)}): expected an int >= 1")
        act = const(nonlinearity, None)
        if act is not None and act not in ("tanh", "relu"):
            raise Unsupported(
                f"{name}(nonlinearity={src(nonlinearity)}) is not translated",
                "torch takes 'tanh' or 'relu'",
            )
        return keras_call(
            self.helper,
            src(input_size),
            src(hidden_size),
            num_layers=None if layers == 1 else src(num_layers),
            nonlinearity=None if nonlinearity is None or act == "tanh" else src(nonlinearity),
            bias=_flag(bias, True),
            batch_first=_flag(batch_first, False),
            dropout=None if rate == 0 else src(dropout),
            bidirectional=_flag(bidirectional, False),
            proj_size=None if const(proj_size, None) == 0 else src(proj_size),
            **{arg: self.initializer(param, None) for param, arg in self.initializers.items()},
        )

    @staticmethod
    def weights(module):
        """torch's order per layer and direction: W_ih.T, W_hh.T, b_ih, b_hh (W_hr.T)."""
        fused_gru = module.mode == "GRU" and not module.bias
        arrays = []
        for tensor in module.parameters():
            array = _array(tensor)
            array = array.T if array.ndim == 2 else array
            arrays.append(_gru_to_keras(array) if fused_gru else array)
        return arrays


@layer
class LSTM(_Recurrent):
    """nn.LSTM -> TorchLSTM (torch's call and (out, (h_n, c_n))); Keras LSTM when bias=False."""

    torch = "torch.nn.LSTM"
    examples = (
        (
            "nn.LSTM(8, 16, num_layers=2, batch_first=True)",
            "TorchLSTM(8, 16, num_layers=2, batch_first=True)",
        ),
    )
    helper = "TorchLSTM"

    def keras(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        proj_size=0,
        device=None,
        dtype=None,
    ):
        _no_dtype(dtype)
        size = const(proj_size, None)
        if not (isinstance(size, int) and size >= 0):
            raise Unsupported(f"LSTM(proj_size={src(proj_size)}): expected a literal int >= 0")
        return self._keras(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
        )


@layer
class GRU(_Recurrent):
    """nn.GRU -> TorchGRU (torch's call and (out, h_n)); Keras GRU when bias=False.

    b_hn stays inside the reset product (Keras's reset_after=True); the fused Keras GRU's gate
    blocks are (z, r, n), torch's (r, z, n), so its weights are reordered."""

    torch = "torch.nn.GRU"
    examples = (("nn.GRU(8, 16, bidirectional=True)", "TorchGRU(8, 16, bidirectional=True)"),)
    helper = "TorchGRU"

    def keras(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        device=None,
        dtype=None,
    ):
        _no_dtype(dtype)
        return self._keras(
            "GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional
        )


@layer
class RNN(_Recurrent):
    """nn.RNN (tanh/relu) -> TorchRNN (torch's call and (out, h_n)); SimpleRNN when bias=False."""

    torch = "torch.nn.RNN"
    examples = (("nn.RNN(8, 16, nonlinearity='relu')", "TorchRNN(8, 16, nonlinearity='relu')"),)
    helper = "TorchRNN"

    def keras(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        nonlinearity="tanh",
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        device=None,
        dtype=None,
    ):
        _no_dtype(dtype)
        return self._keras(
            "RNN",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            nonlinearity=nonlinearity,
        )


class _Cell(LayerRule):
    helper: str

    def keras(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        _no_dtype(dtype)
        return keras_call(self.helper, src(input_size), src(hidden_size), bias=_flag(bias, True))

    def input_features(self, input_size, hidden_size, *args, **kwargs):
        return Arg(input_size) if isinstance(input_size, Arg) else Arg(repr(input_size))

    @staticmethod
    def weights(module):
        """W_ih.T, W_hh.T, b_ih, b_hh: torch's gate order, kept by the helper's cell."""
        return [_array(t).T if t.ndim == 2 else _array(t) for t in module.parameters()]


@layer
class LSTMCell(_Cell):
    """nn.LSTMCell -> TorchLSTMCell: torch's call cell(x, (h, c)) -> (h', c'), two biases."""

    torch = "torch.nn.LSTMCell"
    examples = (("nn.LSTMCell(8, 16)", "TorchLSTMCell(8, 16)"),)
    helper = "TorchLSTMCell"


@layer
class GRUCell(_Cell):
    """nn.GRUCell -> TorchGRUCell: torch's call cell(x, h) -> h', b_hn inside the reset."""

    torch = "torch.nn.GRUCell"
    examples = (("nn.GRUCell(8, 16)", "TorchGRUCell(8, 16)"),)
    helper = "TorchGRUCell"


@layer
class RNNCell(_Cell):
    """nn.RNNCell (tanh/relu) -> TorchRNNCell: torch's call cell(x, h) -> h', two biases."""

    torch = "torch.nn.RNNCell"
    examples = (("nn.RNNCell(8, 16)", "TorchRNNCell(8, 16)"),)
    helper = "TorchRNNCell"

    def keras(
        self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None
    ):
        _no_dtype(dtype)
        act = const(nonlinearity, None)
        if act is not None and act not in ("tanh", "relu"):
            raise Unsupported(
                f"RNNCell(nonlinearity={src(nonlinearity)}) is not translated",
                "torch takes 'tanh' or 'relu'",
            )
        return keras_call(
            self.helper,
            src(input_size),
            src(hidden_size),
            bias=_flag(bias, True),
            nonlinearity=None if act == "tanh" else src(nonlinearity),
        )


def _literal_bool(value: Any, call: str, what: str) -> bool:
    flag = const(value, None)
    if not isinstance(flag, bool):
        raise Unsupported(f"{call}({what}={src(value)}): expected a literal True or False")
    return flag


@function(
    "torch.nn.utils.rnn.pack_padded_sequence",
    examples=(
        (
            "nn.utils.rnn.pack_padded_sequence(x, y, batch_first=True, enforce_sorted=False)",
            "torch_pack_padded_sequence(x, y, batch_first=True, enforce_sorted=False)",
        ),
    ),
)
def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """torch_pack_padded_sequence helper: TorchLSTM/GRU/RNN run the padded batch with a mask.

    The helper keeps the padded batch (batch-first, cut to the longest length) and its
    lengths: outputs are zero after each length, final states those of each sequence's last
    step, in the batch's own order (as torch returns them, sorted or not); enforce_sorted=True
    checks the order as torch does."""
    batch = _literal_bool(batch_first, "pack_padded_sequence", "batch_first")
    enforce = _literal_bool(enforce_sorted, "pack_padded_sequence", "enforce_sorted")
    return keras_call(
        "torch_pack_padded_sequence",
        src(input),
        src(lengths),
        batch_first="True" if batch else None,
        enforce_sorted=None if enforce else "False",
    )


@function(
    "torch.nn.utils.rnn.pad_packed_sequence",
    examples=(
        (
            "nn.utils.rnn.pad_packed_sequence(x, batch_first=True)",
            "torch_pad_packed_sequence(x, batch_first=True)",
        ),
    ),
)
def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """torch_pad_packed_sequence helper: torch's (padded, lengths), padding_value after each.

    The padded output has the longest length's steps, or total_length."""
    batch = _literal_bool(batch_first, "pad_packed_sequence", "batch_first")
    return keras_call(
        "torch_pad_packed_sequence",
        src(sequence),
        batch_first="True" if batch else None,
        padding_value=None if const(padding_value, None) == 0 else src(padding_value),
        total_length=src(total_length) if given(total_length) else None,
    )
