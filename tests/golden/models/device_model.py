import math

import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
def torch_default_kernel():
    """torch's default Linear weight init, U(+-1/sqrt(fan_in)); Keras's is glorot_uniform."""
    return tf.keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")


def torch_default_bias(fan_in):
    """torch's default Linear bias init, U(+-1/sqrt(fan_in)); Keras's is zeros."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return tf.keras.initializers.RandomUniform(-bound, bound)


class TorchDevice(str):
    """torch.device as its spec string ("cuda:1") with torch's .type, .index and equality."""

    TYPES = (
        "cpu cuda ipu xpu mkldnn opengl opencl ideep hip ve fpga maia xla lazy vulkan mps meta "
        "hpu mtia privateuseone"
    ).split()

    def __new__(cls, type, index=None):
        spec = str(type) if index is None else f"{type}:{index}"
        kind, colon, number = spec.partition(":")
        if kind not in cls.TYPES:
            raise RuntimeError(
                f"Expected one of {', '.join(cls.TYPES)} device type: {spec}"
            )
        if colon and not number.isdigit():
            raise RuntimeError(f"Invalid device string: {spec!r}")
        return super().__new__(cls, spec)

    @property
    def type(self):
        return str(self).partition(":")[0]

    @property
    def index(self):
        number = str(self).partition(":")[2]
        return int(number) if number else None

    def __eq__(self, other):  # like torch: a device never equals a plain string
        return isinstance(other, TorchDevice) and str(self) == str(other)

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return str.__hash__(self)


def config_from_arguments(arguments):
    """get_config's arguments: a class or function (block=BasicBlock) by its Keras name."""
    config = {}
    for name, value in arguments.items():
        registered = None
        if hasattr(value, "__name__"):  # a class or a function: Keras saves neither
            registered = tf.keras.utils.get_registered_name(value)
        if registered and tf.keras.utils.get_registered_object(registered) is value:
            value = registered
        elif isinstance(value, type):
            raise TypeError(
                f"argument {name}={value.__qualname__} cannot be saved: a class is "
                "saved by the name tf.keras.utils.register_keras_serializable gives"
            )
        config[name] = value
    return config


def arguments_from_config(config):
    """from_config's arguments: Keras names to classes, serialized layers to layers."""
    deserialize = tf.keras.utils.deserialize_keras_object
    return {name: deserialize(value) for name, value in config.items()}


def get_device():
    return TorchDevice(
        "cuda" if bool(tf.config.list_physical_devices("GPU")) else "cpu"
    )


@tf.keras.utils.register_keras_serializable(package="device_model")
class OnDevice(tf.keras.Model):
    def __init__(self, n, device=None):
        super().__init__()
        self.init_arguments = {"n": n, "device": device}
        self.device = device or get_device()
        self.fc = tf.keras.layers.Dense(
            n,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(n),
            name="fc",
        )
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(n,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return self.fc(x)
