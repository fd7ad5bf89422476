"""Load exported artefacts back and run them on the verification inputs (a script).

Run by :mod:`torch2tf.export` in a fresh Python process, as a copy outside the torch2tf
package: it imports TensorFlow and numpy only, plus the generated module for the ``.keras``
file, and checks at the end that torch was never imported. SavedModel and TFLite are loaded
before the generated module is importable, which shows that they do not need it.

Usage: python export_check.py SPEC.json; prints one JSON object, format -> result.
"""

import importlib
import json
import sys
import traceback

import numpy as np
import tensorflow as tf


def main(spec_path):
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    inputs = [np.load(path) for path in spec["inputs"]]
    results = {}
    order = sorted(spec["artefacts"], key=lambda a: a["format"] == "keras")  # .keras last
    for artefact in order:
        try:
            outputs = LOADERS[artefact["loader"]](artefact["path"], inputs, spec)
            results[artefact["format"]] = {"outputs": save_outputs(outputs, artefact, spec)}
        except Exception as err:  # reported per artefact: the others are still checked
            last = traceback.format_exception_only(type(err), err)[-1].strip()
            results[artefact["format"]] = {"error": last}
    results["torch_imported"] = "torch" in sys.modules
    print(json.dumps(results))


def load_keras(path, inputs, spec):
    if spec["dtype"] != "float32":
        tf.keras.config.set_dtype_policy(spec["dtype"])
    sys.path.insert(0, spec["modules"])
    importlib.import_module(spec["module"])  # registers the generated classes
    model = tf.keras.models.load_model(path)
    return model(*inputs, training=False)


def load_savedmodel(path, inputs, spec):
    loaded = tf.saved_model.load(path)
    serve = loaded.signatures["serving_default"]
    names = sorted(serve.structured_input_signature[1])
    by_position = sorted(names, key=lambda n: spec["input_names"].index(n))
    return serve(**{n: tf.constant(x) for n, x in zip(by_position, inputs, strict=True)})


def load_tflite(path, inputs, spec):
    interpreter = tf.lite.Interpreter(model_path=path)
    runner = interpreter.get_signature_runner("serving_default")
    names = spec["input_names"]
    return runner(**{n: x for n, x in zip(names, inputs, strict=True)})


LOADERS = {"keras": load_keras, "savedmodel": load_savedmodel, "tflite": load_tflite}


def save_outputs(outputs, artefact, spec):
    """Write each output as .npy in the order the model returns them; the paths."""
    if artefact["loader"] == "keras":
        outputs = tf.nest.flatten(outputs)  # dicts by sorted key, as torch2tf compares them
    else:  # signatures name their outputs output_0, output_1, ... or by the model's keys
        outputs = [outputs[k] for k in sorted(outputs, key=output_position)]
    paths = []
    for index, value in enumerate(outputs):
        path = f"{spec['folder']}/{artefact['format']}_output_{index}.npy"
        np.save(path, np.asarray(value))
        paths.append(path)
    return paths


def output_position(name):
    digits = name.rsplit("_", 1)[-1]
    return (int(digits) if digits.isdigit() else 0, name)


if __name__ == "__main__":
    main(sys.argv[1])
