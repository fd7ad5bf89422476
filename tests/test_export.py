""".keras / SavedModel / TFLite exports: written, loaded back in a fresh TensorFlow-only
process, compared with torch; failures reported and nothing half-written."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import EXAMPLES
from seed_mlps import PyTorchMLP, PyTorchMLPComplex, PyTorchMLPInit

import torch2tf
from torch2tf import loading, translate
from torch2tf.cli import EXIT_OK, EXIT_USAGE, main
from torch2tf.export import _compare, parse_formats
from torch2tf.translation.emission import helper_sources

ALL = ("keras", "savedmodel", "tflite", "tflite-int8")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The seed's complex MLP (trained BatchNorm statistics) saved with every export."""
    torch.manual_seed(0)
    model = PyTorchMLPComplex(20, 16, 12, 5, 0.2)
    with torch.no_grad():
        model.bn1.running_mean.uniform_(-1, 1)
        model.bn1.running_var.uniform_(0.5, 2)
    model.eval()
    result = torch2tf.convert(model, args=(20, 16, 12, 5, 0.2))
    out = tmp_path_factory.mktemp("exports") / "complex"
    result.save(out, formats=ALL)
    return result, out


def test_every_export_reloads_in_a_fresh_process_and_matches_torch(exported):
    result, out = exported
    report = json.loads((out / "report.json").read_text())
    assert set(report["exports"]) == set(ALL)
    for fmt in ("keras", "savedmodel", "tflite"):
        entry = report["exports"][fmt]
        assert entry["passed"], entry
        assert entry["max_abs_error"] <= (1e-4 if fmt == "tflite" else 1e-5)
        assert (out / entry["file"]).exists()
    int8 = report["exports"]["tflite-int8"]
    assert int8["atol"] is None and 0 < int8["max_abs_error"] < 0.5  # measured: 8-bit weights
    assert {p.name for p in out.iterdir()} == {
        "seed_mlps.py",
        "PyTorchMLPComplex.weights.h5",
        "report.json",
        "PyTorchMLPComplex.keras",
        "PyTorchMLPComplex_savedmodel",
        "PyTorchMLPComplex.tflite",
        "PyTorchMLPComplex.int8.tflite",
    }
    assert result.exports == report["exports"]


def test_the_keras_file_loads_with_tensorflow_and_the_generated_module_only(exported):
    """As a user would: import the generated module, load_model; torch is never imported."""
    result, out = exported
    x = result.inputs[0].numpy()
    np.save(out.parent / "x.npy", x)
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        import tensorflow as tf
        sys.path.insert(0, {str(out)!r})
        import seed_mlps
        model = tf.keras.models.load_model({str(out / "PyTorchMLPComplex.keras")!r})
        assert type(model) is seed_mlps.PyTorchMLPComplex, type(model)
        assert model.get_config() == {{
            "input_size": 20, "hidden_size1": 16, "hidden_size2": 12, "output_size": 5,
            "dropout_rate": 0.2,
        }}
        y = model(np.load({str(out.parent / "x.npy")!r}), training=False)
        np.save({str(out.parent / "y.npy")!r}, y.numpy())
        assert "torch" not in sys.modules
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with torch.no_grad():
        expected = result.torch_model(result.inputs[0]).numpy()
    np.testing.assert_allclose(np.load(out.parent / "y.npy"), expected, atol=1e-5, rtol=1e-4)


def test_a_model_keras_cannot_rebuild_is_reported_and_not_written(tmp_path):
    """A constructor taking *args cannot be called again from a config: the .keras export
    fails with Keras's reason, the SavedModel (which needs no Python) still ships."""
    src = tmp_path / "stack.py"
    src.write_text(
        textwrap.dedent("""
        import torch.nn as nn


        class Stack(nn.Module):
            def __init__(self, *sizes):
                super().__init__()
                self.first = nn.Linear(sizes[0], sizes[1])
                self.second = nn.Linear(sizes[1], sizes[2])

            def forward(self, x):
                return self.second(self.first(x).relu())
        """)
    )
    model = loading.construct(loading.load_class(src, "Stack"), [6, 5, 3], {}).eval()
    result = torch2tf.convert(model, args=(6, 5, 3))
    exports = result.export(tmp_path / "out", formats=["keras", "savedmodel"])
    assert not exports["keras"]["passed"] and exports["keras"]["file"] is None
    assert "get_config" in exports["keras"]["error"]
    assert exports["savedmodel"]["passed"], exports["savedmodel"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["Stack_savedmodel"]


def test_a_mismatch_fails_against_the_stated_tolerance():
    expected = [np.array([[1.0, 2.0]], np.float32)]
    assert _compare("keras", expected, [expected[0] + 5e-6], 0.0)["passed"]
    failed = _compare("keras", expected, [expected[0] + 2e-5], 0.0)
    assert not failed["passed"] and "exceeds atol 1e-05" in failed["error"]
    assert _compare("tflite", expected, [expected[0] + 5e-5], 0.0)["passed"]
    assert not _compare("savedmodel", expected, [expected[0][:, :1]], 0.0)["passed"]


def test_formats_are_checked(capsys, tmp_path):
    assert parse_formats("tflite,keras") == ("keras", "tflite")
    code = main(
        ["convert", str(EXAMPLES / "seed_mlps.py"), "--class", "PyTorchMLP", "--args", "[4, 3, 2]"]
        + ["--export", "keras,onnx", "-o", str(tmp_path / "out")]
    )
    _, err = capsys.readouterr()
    assert code == EXIT_USAGE and "unknown export format 'onnx'" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_cli_export_writes_and_reports(capsys, tmp_path):
    argv = ["convert", str(EXAMPLES / "seed_mlps.py"), "--class", "PyTorchMLP"]
    argv += ["--args", "[8, 6, 3]", "--export", "keras", "-o", str(tmp_path / "out")]
    assert main(argv) == EXIT_OK
    out, _ = capsys.readouterr()
    assert "export keras" in out and "PyTorchMLP.keras" in out
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["exports"]["keras"]["passed"]


def test_a_model_built_by_its_first_call_says_how_to_load_its_weights(capsys, tmp_path):
    src = tmp_path / "seqnet.py"
    src.write_text(
        textwrap.dedent("""
        import torch.nn as nn


        class SeqNet(nn.Module):
            def __init__(self, width):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(width, 4), nn.Tanh(), nn.Linear(4, 2))

            def forward(self, x):
                return self.body(x)
        """)
    )
    out = tmp_path / "out"
    assert main(["convert", str(src), "--class", "SeqNet", "--args", "[7]", "-o", str(out)]) == 0
    printed, _ = capsys.readouterr()
    note = next(line for line in printed.splitlines() if line.startswith("note:"))
    call = note.split("call ", 1)[1].removesuffix(" once")
    assert call == "model(tf.zeros((1, 7)))"
    report = json.loads((out / "report.json").read_text())
    assert not report["built_at_construction"]
    assert report["inputs"] == [{"shape": [16, 7], "dtype": "float32", "layout": "as torch"}]

    def load(first: str) -> subprocess.CompletedProcess:
        script = (
            f"import sys\nimport tensorflow as tf\nsys.path.insert(0, {str(out)!r})\n"
            f"from seqnet import SeqNet\nmodel = SeqNet(7)\n{first}\n"
            f"model.load_weights({str(out / 'SeqNet.weights.h5')!r})\n"
        )
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)

    loaded = load(call)
    assert loaded.returncode == 0, loaded.stderr
    assert load("pass").returncode != 0  # which is why the note is printed


def test_keras_layers_are_named_after_the_torch_attributes(exported):
    result, out = exported
    lines: list[str] = []
    result.keras_model.summary(print_fn=lambda line, **_: lines.append(line))
    summary = "\n".join(lines)
    for name, kind in [("fc1", "Dense"), ("bn1", "TorchBatchNorm"), ("relu1", "ReLU")]:
        assert f"{name} ({kind})" in summary
    assert [layer.name for layer in result.keras_model.layers] == [
        n for n, _ in result.torch_model.named_children()
    ]


TWO_INPUTS = """
import torch
import torch.nn as nn


class TokensAndFeatures(nn.Module):
    def __init__(self, vocab, dim, features, classes):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.proj = nn.Linear(features, dim)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, ids, features):
        h = self.embed(ids).mean(dim=1) + self.proj(features)
        return self.head(torch.relu(self.norm(h)))
"""


def test_a_model_of_two_inputs_built_by_its_first_call_exports_and_reloads(tmp_path):
    """Token ids into an Embedding plus float features: Keras's default build config records
    the first input's shape only, so the generated build takes every input's shape."""
    src = tmp_path / "two_inputs.py"
    src.write_text(textwrap.dedent(TWO_INPUTS))
    cls = loading.load_class(src, "TokensAndFeatures")
    torch.manual_seed(0)
    model = loading.construct(cls, [50, 8, 6, 3], {}).eval()
    inputs = (torch.randint(0, 50, (4, 5)), torch.randn(4, 6))
    result = torch2tf.convert(model, args=(50, 8, 6, 3), inputs=inputs)
    assert result.passed and not result.built_at_construction
    assert "def build(self, ids_shape=None, features_shape=None):" in result.source
    out = tmp_path / "out"
    result.save(out, formats=["keras", "savedmodel", "tflite"])
    report = json.loads((out / "report.json").read_text())
    for fmt in ("keras", "savedmodel", "tflite"):
        entry = report["exports"][fmt]
        assert entry["passed"], entry
        assert entry["max_abs_error"] <= (1e-4 if fmt == "tflite" else 1e-5)
        assert (out / entry["file"]).exists()
    # As a user loads it: the generated module and TensorFlow only, no call before loading.
    np.save(tmp_path / "ids.npy", inputs[0].numpy())
    np.save(tmp_path / "features.npy", inputs[1].numpy())
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        import tensorflow as tf
        sys.path.insert(0, {str(out)!r})
        import two_inputs
        model = tf.keras.models.load_model({str(out / "TokensAndFeatures.keras")!r})
        assert len(model.weights) == 7, [w.path for w in model.weights]
        ids = np.load({str(tmp_path / "ids.npy")!r})
        features = np.load({str(tmp_path / "features.npy")!r})
        np.save({str(tmp_path / "y.npy")!r}, model(ids, features, training=False).numpy())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with torch.no_grad():
        expected = model(*inputs).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-5, rtol=1e-4)


def test_build_from_shapes_tries_int_inputs_where_float_ones_fail():
    """The saved shapes carry no dtypes: an input only an int can be (one_hot) is found."""
    import tensorflow as tf

    namespace: dict = {"tf": tf}
    exec(helper_sources()["build_from_shapes"], namespace)

    class OneHot(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = tf.keras.layers.Dense(2)

        def build(self, labels_shape, scale_shape):
            namespace["build_from_shapes"](self, labels=labels_shape, scale=scale_shape)

        def call(self, labels, scale, training=None):
            return self.dense(tf.one_hot(labels, 4)) * scale

    model = OneHot()
    model.build(labels_shape=(None, 3), scale_shape=(None, 1))
    assert [tuple(w.shape) for w in model.weights] == [(4, 2), (2,)]


def test_the_seed_init_mlp_exports_and_reloads(tmp_path):
    """The third seed model (xavier/zeros init through self.modules()): every export passes
    in a fresh process; the .keras file rebuilds it from its constructor arguments."""
    torch.manual_seed(0)
    model = PyTorchMLPInit(12, 9, 4).eval()
    result = torch2tf.convert(model, args=(12, 9, 4))
    out = tmp_path / "init"
    result.save(out, formats=ALL)
    report = json.loads((out / "report.json").read_text())
    for fmt in ("keras", "savedmodel", "tflite"):
        entry = report["exports"][fmt]
        assert entry["passed"], entry
        assert entry["max_abs_error"] <= (1e-4 if fmt == "tflite" else 1e-5)
        assert (out / entry["file"]).exists()
    assert report["exports"]["tflite-int8"]["file"] == "PyTorchMLPInit.int8.tflite"
    script = textwrap.dedent(f"""
        import sys
        import tensorflow as tf
        sys.path.insert(0, {str(out)!r})
        import seed_mlps
        model = tf.keras.models.load_model({str(out / "PyTorchMLPInit.keras")!r})
        assert type(model) is seed_mlps.PyTorchMLPInit, type(model)
        assert model.get_config() == {{"input_size": 12, "hidden_size": 9, "output_size": 4}}
        assert [layer.name for layer in model.layers] == ["fc1", "relu", "fc2"]
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


SMALL_CNN = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallCNN(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 4 * 4, classes)

    def forward(self, x):
        x = self.pool(F.relu(self.bn(self.conv(x))))
        return self.fc(torch.flatten(x, 1))
"""


def test_a_cnn_exports_channels_last_and_the_report_says_so(tmp_path):
    """Every export of a CNN takes NHWC input (torch's NCHW permuted), recorded per export
    under ``inputs``; each reloads in a fresh process and matches torch."""
    src = tmp_path / "small_cnn.py"
    src.write_text(textwrap.dedent(SMALL_CNN))
    torch.manual_seed(0)
    model = loading.construct(loading.load_class(src, "SmallCNN"), [], {}).eval()
    x = torch.randn(2, 3, 8, 8)
    result = torch2tf.convert(model, inputs=(x,))
    exports = result.export(tmp_path / "out", ["keras", "savedmodel", "tflite"])
    for fmt, entry in exports.items():
        assert entry["passed"], (fmt, entry)
        assert entry["inputs"] == [
            {"name": "x", "shape": [None, 8, 8, 3], "dtype": "float32", "layout": "NCHW -> NHWC"}
        ]


def test_the_readme_export_command_and_load_model_snippet(capsys, tmp_path, monkeypatch):
    """The quick start's command with --export keras, then the README's load_model snippet,
    as written, in a fresh TensorFlow-only process."""
    import shlex

    from conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    line = next(x for x in readme.splitlines() if "torch2tf convert examples/seed_mlps.py" in x)
    argv = shlex.split(line.split("&& torch2tf ", 1)[1]) + ["--export", "keras"]
    argv = [str(ROOT / a) if a.startswith("examples/") else a for a in argv]
    monkeypatch.chdir(tmp_path)
    assert main(argv) == EXIT_OK, capsys.readouterr().err
    snippet = readme.split("With `--export keras` added to the quick start's command", 1)[1]
    snippet = snippet.split("```python\n", 1)[1].split("```", 1)[0]
    check = "\nassert 'torch' not in sys.modules\n"
    done = subprocess.run(
        [sys.executable, "-c", snippet + check], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "(1, 10)"


def test_the_generated_build_takes_a_call_with_a_python_argument():
    """Keras passes build the shapes of the tensors a call received only: a Python number
    among the inputs leaves its shape out, and the model still builds and runs."""
    import tensorflow as tf

    source = textwrap.dedent("""
        import torch.nn as nn


        class Scaled(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 2)

            def forward(self, x, times):
                return self.fc(x) * times
    """)
    code = translate.translate_source(source, "scaled.py")
    assert "def build(self, x_shape=None, times_shape=None):" in code
    namespace: dict = {}
    exec(compile(code, "scaled.py", "exec"), namespace)
    model = namespace["Scaled"]()
    y = model(tf.ones((4, 3)), times=2.0)  # Keras takes tensors only as positionals
    assert y.shape == (4, 2) and len(model.weights) == 2


LSTM_CLASSIFIER = """
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self, vocab_size=40, embed_dim=8, hidden_dim=16, num_classes=3):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, num_layers=2, batch_first=True)
        self.fc = nn.Linear(hidden_dim, num_classes)

    def forward(self, tokens):
        out, (h, c) = self.lstm(self.embedding(tokens))
        return self.fc(h[-1])
"""


def test_an_lstm_classifier_exports_to_every_format(tmp_path):
    """The recurrent helpers (torch's two biases) save, reload in a fresh process and match.
    The .tflite file takes the verification input's shape, batch size included (TFLite's
    builtin ops lower the loop over time steps only with static tensor lists); the
    SavedModel keeps its batch size open."""
    src = tmp_path / "lstm_classifier.py"
    src.write_text(textwrap.dedent(LSTM_CLASSIFIER))
    torch.manual_seed(0)
    model = loading.construct(loading.load_class(src, "Classifier"), [], {}).eval()
    tokens = torch.randint(0, 40, (4, 9), generator=torch.Generator().manual_seed(0))
    exports = torch2tf.convert(model, inputs=(tokens,)).export(tmp_path / "out", ALL)
    assert all(entry["passed"] for entry in exports.values()), exports
    assert exports["tflite"]["max_abs_error"] <= 1e-4
    for fmt in ("tflite", "tflite-int8"):
        assert exports[fmt]["fixed_shape"] is True
        assert exports[fmt]["inputs"][0]["shape"] == [4, 9]
    assert "fixed_shape" not in exports["savedmodel"]
    assert exports["savedmodel"]["inputs"][0]["shape"] == [None, 9]
    assert (tmp_path / "out" / "Classifier.tflite").is_file()


GRU_TAGGER = """
import torch.nn as nn


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(6, 8, num_layers=2, bidirectional=True)
        self.out = nn.Linear(16, 3)

    def forward(self, x):
        out, h = self.gru(x)
        return self.out(out), h
"""


def test_a_sequence_first_bidirectional_gru_exports_to_tflite(tmp_path):
    """Time-major input (T, B, F): the whole shape is fixed, whichever axis is the batch."""
    src = tmp_path / "gru_tagger.py"
    src.write_text(textwrap.dedent(GRU_TAGGER))
    torch.manual_seed(0)
    model = loading.construct(loading.load_class(src, "Tagger"), [], {}).eval()
    x = torch.randn(7, 2, 6, generator=torch.Generator().manual_seed(0))
    exports = torch2tf.convert(model, inputs=(x,)).export(tmp_path / "out", ["tflite"])
    assert exports["tflite"]["passed"], exports
    assert exports["tflite"]["max_abs_error"] <= 1e-4
    assert exports["tflite"]["inputs"][0]["shape"] == [7, 2, 6]


def test_a_gpt_with_tied_embeddings_exports_to_every_format(tmp_path):
    """Weight tying keeps one variable through .keras (the replaced Dense saves nothing),
    SavedModel and TFLite; each reloads in a fresh process and matches torch."""
    from conftest import MODELS

    src = MODELS / "tiny_gpt.py"
    torch.manual_seed(0)
    model = loading.construct(loading.load_class(src, "GPT"), [], {}).eval()
    idx = torch.randint(0, 65, (2, 16), generator=torch.Generator().manual_seed(0))
    exports = torch2tf.convert(model, inputs=(idx,)).export(
        tmp_path / "out", ["keras", "savedmodel", "tflite"]
    )
    assert all(entry["passed"] for entry in exports.values()), exports


BLOCKS = """
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return x + self.fc(x).relu()


class Net(nn.Module):
    def __init__(self, block, width, depth, head):
        super().__init__()
        self.blocks = nn.Sequential(*[block(width) for _ in range(depth)])
        self.head = head

    def forward(self, x):
        return self.head(self.blocks(x))
"""


def test_class_and_layer_arguments_are_saved_and_rebuilt(tmp_path):
    """block=Block (a class: saved by its registered name) and head=a layer passed in (saved
    by Keras, rebuilt by the generated from_config): load_model in a fresh process."""
    src = tmp_path / "blocks.py"
    src.write_text(textwrap.dedent(BLOCKS))
    cls = loading.load_class(src, "Net")
    block = loading.load_class(src, "Block")
    torch.manual_seed(0)
    model = cls(block, 6, 2, torch.nn.Linear(6, 3)).eval()
    result = torch2tf.convert(model, args=(block, 6, 2, torch.nn.Linear(6, 3)))
    out = tmp_path / "out"
    result.save(out, formats=["keras"])
    assert result.exports["keras"]["passed"], result.exports
    config = result.keras_model.get_config()
    assert config["block"] == "blocks>Block" and config["width"] == 6
    np.save(tmp_path / "x.npy", result.inputs[0].numpy())
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        import tensorflow as tf
        sys.path.insert(0, {str(out)!r})
        import blocks
        model = tf.keras.models.load_model({str(out / "Net.keras")!r})
        assert model.get_config()["block"] == "blocks>Block"
        assert isinstance(model.head, tf.keras.layers.Dense), type(model.head)
        assert [type(b) for b in model.blocks.layers] == [blocks.Block, blocks.Block]
        y = model(np.load({str(tmp_path / "x.npy")!r}), training=False)
        np.save({str(tmp_path / "y.npy")!r}, y.numpy())
        assert "torch" not in sys.modules
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with torch.no_grad():
        expected = model(result.inputs[0]).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-5, rtol=1e-4)


def test_a_class_argument_keras_cannot_name_is_refused_clearly():
    """An unregistered class cannot be found again by load_model: get_config says so (Keras's
    own error would be 'get_config() missing 1 required positional argument')."""
    import tensorflow as tf

    namespace: dict = {"tf": tf}
    exec(helper_sources()["config_from_arguments"], namespace)

    class Unregistered(tf.keras.layers.Layer):
        pass

    assert namespace["config_from_arguments"]({"width": 3, "act": None}) == {
        "width": 3,
        "act": None,
    }
    with pytest.raises(TypeError, match="argument block=.*Unregistered cannot be saved"):
        namespace["config_from_arguments"]({"block": Unregistered})


PACKED_TAGGER = """
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class PackedTagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 8, bidirectional=True, batch_first=True)
        self.out = nn.Linear(16, 4)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, (h, c) = self.rnn(packed)
        padded, _ = pad_packed_sequence(out, batch_first=True, total_length=7)
        return self.out(padded), h
"""


def test_packed_sequences_export_to_every_format(tmp_path):
    """pack_padded_sequence / pad_packed_sequence (a mask over the padded batch): .keras,
    SavedModel and TFLite (fixed shape, lengths an input) reload and match torch. The
    .keras file rebuilds the model from the saved shapes with lengths of 1 (torch refuses
    0, and so does the mask), so its weights load."""
    src = tmp_path / "packed_tagger.py"
    src.write_text(textwrap.dedent(PACKED_TAGGER))
    torch.manual_seed(0)
    model = loading.construct(loading.load_class(src, "PackedTagger"), [], {}).eval()
    x = torch.randn(4, 7, 3, generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([5, 2, 7, 3])
    result = torch2tf.convert(model, inputs=(x, lengths))
    assert result.passed
    exports = result.export(tmp_path / "out", ["keras", "savedmodel", "tflite"])
    assert all(entry["passed"] for entry in exports.values()), exports
    assert exports["keras"]["max_abs_error"] <= 1e-5
    assert exports["tflite"]["max_abs_error"] <= 1e-4 and exports["tflite"]["fixed_shape"]
    assert [i["shape"] for i in exports["tflite"]["inputs"]] == [[4, 7, 3], [4]]
    assert exports["savedmodel"]["inputs"][1] == {
        "name": "lengths",
        "shape": [None],
        "dtype": "int64",
        "layout": "as torch",
    }


def _example(name: str) -> tuple[torch.nn.Module, tuple, tuple]:
    """(model, its constructor arguments, verification inputs or none to infer them)."""
    from conftest import MODELS

    from torch2tf.parity_models import DigitsCNN

    torch.manual_seed(0)
    if name == "PyTorchMLP":
        return PyTorchMLP(20, 16, 5), (20, 16, 5), ()
    if name == "DigitsMLP":  # the training example's model
        return loading.load_class(EXAMPLES / "train_digits.py", "DigitsMLP")(), (), ()
    if name == "DigitsCNN":  # the parity report's CNN
        return DigitsCNN(), (), (torch.randn(4, 1, 8, 8),)
    vit = loading.load_class(MODELS / "tiny_vit.py", "ViT")  # attention, patches by a conv
    return vit(), (), (torch.randn(2, 3, 32, 32),)


@pytest.mark.parametrize("name", ["PyTorchMLP", "DigitsMLP", "DigitsCNN", "ViT"])
def test_the_other_examples_export_to_every_format(tmp_path, name):
    """The bundled examples not exported above, and the CNN and attention examples: every
    format reloads in a fresh process within 1e-5 of torch (TFLite float32 within 1e-4)."""
    model, args, inputs = _example(name)
    result = torch2tf.convert(model.eval(), args=args, inputs=inputs or None)
    exports = result.export(tmp_path / "out", ALL)
    assert all(entry["passed"] for entry in exports.values()), exports
    for fmt in ("keras", "savedmodel", "tflite"):
        assert exports[fmt]["max_abs_error"] <= (1e-4 if fmt == "tflite" else 1e-5)
