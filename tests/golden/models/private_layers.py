"""Private classes (a leading underscore, as rtdl_num_embeddings' _NLinear and tabm's
_MLPBackboneBase): Keras names their layers "_n_linear", a name scope TensorFlow refuses
when Keras traces the layer to build it. A private root class has a public subclass and a
private one without an __init__ of its own; a private class has no __init__ at all."""

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


@tf.keras.utils.register_keras_serializable(package="private_layers")
class _NLinear(tf.keras.Model):
    """n separate linear maps, one per feature."""

    def __init__(self, n: int, in_features: int, out_features: int) -> None:
        super().__init__()
        # the name Keras gave it, less the "_" TensorFlow refuses in name scopes
        self.name = self.name.lstrip("_")
        self.init_arguments = {
            "n": n,
            "in_features": in_features,
            "out_features": out_features,
        }
        self.weight = self.add_weight(
            name="weight",
            shape=(n, in_features, out_features),
            initializer=tf.keras.initializers.RandomUniform(
                -(in_features**-0.5), (in_features**-0.5)
            ),
        )
        self.bias = self.add_weight(
            name="bias",
            shape=(n, out_features),
            initializer=tf.keras.initializers.RandomUniform(
                -(in_features**-0.5), (in_features**-0.5)
            ),
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x: tf.Tensor, training=None) -> tf.Tensor:
        x = tf.keras.ops.swapaxes(x, 0, 1)
        x = x @ self.weight
        x = tf.keras.ops.swapaxes(x, 0, 1)
        return x + self.bias


@tf.keras.utils.register_keras_serializable(package="private_layers")
class _Block(tf.keras.Model):
    def __init__(self, d: int) -> None:
        super().__init__()
        # the name Keras gave it, less the "_" TensorFlow refuses in name scopes
        self.name = self.name.lstrip("_")
        self.init_arguments = {"d": d}
        self.linear = tf.keras.layers.Dense(
            d,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(d),
            name="linear",
        )
        # Create the weights now, as torch does at construction.
        # (Only for this class itself: a subclass adds layers after this.)
        if type(self) is _Block:
            self(tf.keras.Input(shape=(d,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x: tf.Tensor, training=None) -> tf.Tensor:
        return self.linear(x)


@tf.keras.utils.register_keras_serializable(package="private_layers")
class Block(_Block):
    pass


@tf.keras.utils.register_keras_serializable(package="private_layers")
class _ReluBlock(Block):
    def call(self, x: tf.Tensor, training=None) -> tf.Tensor:
        return tf.nn.relu(self.linear(x, training=training))


@tf.keras.utils.register_keras_serializable(package="private_layers")
class _Twice(tf.keras.Model):
    def __init__(self):
        super().__init__()
        # the name Keras gave it, less the "_" TensorFlow refuses in name scopes
        self.name = self.name.lstrip("_")

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return {}

    def call(self, x: tf.Tensor, training=None) -> tf.Tensor:
        return 2.0 * x


@tf.keras.utils.register_keras_serializable(package="private_layers")
class Features(tf.keras.Model):
    def __init__(self, n: int = 3, d: int = 4) -> None:
        super().__init__()
        self.init_arguments = {"n": n, "d": d}
        self.embed = _NLinear(n, d, d)
        self.block = Block(d)
        self.relu_block = _ReluBlock(d)
        self.twice = _Twice()

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x: tf.Tensor, training=None) -> tf.Tensor:
        return self.twice(
            self.relu_block(
                self.block(self.embed(x, training=training), training=training),
                training=training,
            ),
            training=training,
        )
