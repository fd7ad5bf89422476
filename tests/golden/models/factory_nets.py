"""Models built by factory functions, the way torchvision builds its models: the block class
and the normalisation layer are constructor arguments, and the factory fills them in."""

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


@tf.keras.utils.register_keras_serializable(package="factory_nets")
class Block(tf.keras.Model):
    """A residual step: Linear, normalisation, activation, plus the input."""

    def __init__(
        self,
        features,
        norm_layer,
        activation=(lambda inplace=False: tf.keras.layers.ReLU()),
    ):
        super().__init__()
        self.init_arguments = {
            "features": features,
            "norm_layer": norm_layer,
            "activation": activation,
        }
        self.fc = tf.keras.layers.Dense(
            features,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(features),
            name="fc",
        )
        self.norm = norm_layer(features)
        self.act = activation()
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(features,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return x + self.act(self.norm(self.fc(x), training=training), training=training)


@tf.keras.utils.register_keras_serializable(package="factory_nets")
class Net(tf.keras.Model):
    """A stem, ``sum(layers)`` blocks of ``block`` and a classifier."""

    def __init__(
        self, block, layers, norm_layer, in_features=64, width=32, num_classes=10
    ):
        super().__init__()
        self.init_arguments = {
            "block": block,
            "layers": layers,
            "norm_layer": norm_layer,
            "in_features": in_features,
            "width": width,
            "num_classes": num_classes,
        }
        self.stem = tf.keras.layers.Dense(
            width,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(in_features),
            name="stem",
        )
        self.blocks = tf.keras.Sequential(
            [*[block(width, norm_layer) for _ in range(sum(layers))]], name="blocks"
        )
        self.head = tf.keras.layers.Dense(
            num_classes,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(width),
            name="head",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return self.head(self.blocks(self.stem(x), training=training))


@tf.keras.utils.register_keras_serializable(package="factory_nets")
class Mlp(tf.keras.Model):
    """Linear, normalisation and activation per pair of ``sizes``, then a classifier."""

    def __init__(
        self,
        sizes,
        norm_layer,
        activation=(lambda inplace=False: tf.keras.layers.ReLU()),
        num_classes=10,
    ):
        super().__init__()
        self.init_arguments = {
            "sizes": sizes,
            "norm_layer": norm_layer,
            "activation": activation,
            "num_classes": num_classes,
        }
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [
                tf.keras.layers.Dense(
                    b,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(a),
                ),
                norm_layer(b),
                activation(),
            ]
        self.body = tf.keras.Sequential([*layers], name="body")
        self.head = tf.keras.layers.Dense(
            num_classes,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(sizes[-1]),
            name="head",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return self.head(self.body(x, training=training))


def _net(block, layers, **kwargs):
    return Net(block, layers, **kwargs)


def small_net(**kwargs):
    """Two blocks; the caller gives ``norm_layer``."""
    return _net(Block, [1, 1], **kwargs)


def small_mlp(**kwargs):
    """64 -> 32 -> 16 -> 10 for 8x8 digits; the caller gives ``norm_layer``."""
    return Mlp([64, 32, 16], **kwargs)
