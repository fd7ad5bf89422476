"""Models whose module tree depends on more than the constructor arguments the source shows."""

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


def torch_normalized_axes(normalized_shape):
    """Keras axes for torch's normalized_shape (an int or trailing sizes)."""
    if isinstance(normalized_shape, (tuple, list)):  # torch.Size is a tuple
        return list(range(-len(normalized_shape), 0))
    return -1


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


# Module-level settings a program may change at run time, before it builds its models.
SETTINGS = {"depth": 2}


def make_blocks(width):
    """A ModuleList built by a helper, whose length comes from the settings."""
    return [
        tf.keras.layers.Dense(
            width,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(width),
        )
        for _ in range(SETTINGS["depth"])
    ]


@tf.keras.utils.register_keras_serializable(package="live_tree")
class Gated(tf.keras.Model):
    """Which activation and whether a norm exists depends on arguments."""

    def __init__(self, width, kind="relu", norm=False):
        super().__init__()
        self.init_arguments = {"width": width, "kind": kind, "norm": norm}
        self.fc = tf.keras.layers.Dense(
            width,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(width),
            name="fc",
        )
        if kind == "relu":
            self.act = tf.keras.layers.ReLU(name="act")
        else:
            self.act = tf.keras.layers.Activation("tanh", name="act")
        self.norm = (
            tf.keras.layers.LayerNormalization(
                axis=torch_normalized_axes(width), epsilon=1e-05
            )
            if norm
            else None
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        x = self.act(self.fc(x))
        if self.norm is not None:
            x = self.norm(x, training=training)
        return x


@tf.keras.utils.register_keras_serializable(package="live_tree")
class Stack(tf.keras.Model):
    """Blocks from a helper function."""

    def __init__(self, width):
        super().__init__()
        self.init_arguments = {"width": width}
        self.blocks = make_blocks(width)
        self.head = tf.keras.layers.Dense(
            1,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(width),
            name="head",
        )
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(width,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        for block in self.blocks:
            x = tf.nn.relu(block(x))
        return self.head(x)


@tf.keras.utils.register_keras_serializable(package="live_tree")
class Head(tf.keras.Model):
    """A backbone given as an argument, then a linear head."""

    def __init__(self, backbone, width, out):
        super().__init__()
        self.init_arguments = {"backbone": backbone, "width": width, "out": out}
        self.backbone = backbone
        self.out = tf.keras.layers.Dense(
            out,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(width),
            name="out",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return self.out(self.backbone(x, training=training))


@tf.keras.utils.register_keras_serializable(package="live_tree")
class SharedLayers(tf.keras.Model):
    """One module held under two names, which torch's module tree lists once."""

    def __init__(self, width, p=0.1):
        super().__init__()
        self.init_arguments = {"width": width, "p": p}
        self.fc = tf.keras.layers.Dense(
            width,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(width),
            name="fc",
        )
        self.again = self.fc
        self.drop1 = tf.keras.layers.Dropout(p, name="drop1")
        self.drop2 = self.drop1
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(width,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return self.drop2(
            self.again(
                self.drop1(tf.nn.relu(self.fc(x)), training=training), training=training
            ),
            training=training,
        )
