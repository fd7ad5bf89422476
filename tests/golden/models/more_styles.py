"""More MLP styles: flattened images, pre-norm residual blocks on 3-D input, a VAE."""

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


@tf.keras.utils.register_keras_serializable(package="more_styles")
class MnistMLP(tf.keras.Model):
    def __init__(self, hidden=(128, 64), num_classes=10, dropout=0.2):
        super().__init__()
        self.init_arguments = {
            "hidden": hidden,
            "num_classes": num_classes,
            "dropout": dropout,
        }
        self.flatten = tf.keras.layers.Flatten(name="flatten")
        self.layers_ = []
        for h in hidden:
            self.layers_.append(
                tf.keras.layers.Dense(
                    h,
                    kernel_initializer=tf.keras.initializers.RandomNormal(0.0, 0.02),
                    bias_initializer=tf.keras.initializers.Zeros(),
                )
            )
        self.dropout = tf.keras.layers.Dropout(dropout, name="dropout")
        self.classifier = tf.keras.layers.Dense(
            num_classes,
            kernel_initializer=tf.keras.initializers.RandomNormal(0.0, 0.02),
            bias_initializer=tf.keras.initializers.Zeros(),
            name="classifier",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        x = self.flatten(x)
        for i, layer in enumerate(self.layers_):
            x = tf.nn.gelu(layer(x))
            if i < len(self.layers_) - 1:
                x = self.dropout(x, training=training)
        return tf.nn.log_softmax(self.classifier(x), axis=-1)


@tf.keras.utils.register_keras_serializable(package="more_styles")
class PreNormBlock(tf.keras.Model):
    def __init__(self, dim, expansion=4, dropout=0.0):
        super().__init__()
        self.init_arguments = {"dim": dim, "expansion": expansion, "dropout": dropout}
        self.norm = tf.keras.layers.LayerNormalization(
            axis=torch_normalized_axes(dim), epsilon=1e-05, name="norm"
        )
        self.mlp = tf.keras.Sequential(
            [
                tf.keras.layers.Dense(
                    dim * expansion,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(dim),
                ),
                tf.keras.layers.Activation("gelu"),
                tf.keras.layers.Dropout(dropout),
                tf.keras.layers.Dense(
                    dim,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(dim * expansion),
                ),
            ],
            name="mlp",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return x + self.mlp(self.norm(x), training=training)


@tf.keras.utils.register_keras_serializable(package="more_styles")
class ResMLP(tf.keras.Model):
    def __init__(self, in_dim, dim, depth, out_dim):
        super().__init__()
        self.init_arguments = {
            "in_dim": in_dim,
            "dim": dim,
            "depth": depth,
            "out_dim": out_dim,
        }
        self.embed = tf.keras.layers.Dense(
            dim,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(in_dim),
            name="embed",
        )
        self.blocks = tf.keras.Sequential(
            [*[PreNormBlock(dim) for _ in range(depth)]], name="blocks"
        )
        self.head = tf.keras.layers.Dense(
            out_dim,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(dim),
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
        h = self.blocks(self.embed(x), training=training)
        return (
            self.head(tf.reduce_mean(h, axis=1)) if len(h.shape) == 3 else self.head(h)
        )


@tf.keras.utils.register_keras_serializable(package="more_styles")
class VAE(tf.keras.Model):
    def __init__(self, x_dim, z_dim, h_dim=32):
        super().__init__()
        self.init_arguments = {"x_dim": x_dim, "z_dim": z_dim, "h_dim": h_dim}
        self.enc = tf.keras.Sequential(
            [
                tf.keras.layers.Dense(
                    h_dim,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(x_dim),
                ),
                tf.keras.layers.ReLU(),
            ],
            name="enc",
        )
        self.mu = tf.keras.layers.Dense(
            z_dim,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(h_dim),
            name="mu",
        )
        self.logvar = tf.keras.layers.Dense(
            z_dim,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(h_dim),
            name="logvar",
        )
        self.dec = tf.keras.Sequential(
            [
                tf.keras.layers.Dense(
                    h_dim,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(z_dim),
                ),
                tf.keras.layers.ReLU(),
                tf.keras.layers.Dense(
                    x_dim,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(h_dim),
                ),
                tf.keras.layers.Activation("sigmoid"),
            ],
            name="dec",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def encode(self, x, training=None):
        h = self.enc(x, training=training)
        return self.mu(h), self.logvar(h)

    def reparameterize(self, mu, logvar, training=None):
        if training:
            std = tf.exp(0.5 * logvar)
            eps = tf.random.normal(tf.shape(std), dtype=std.dtype)
            return mu + eps * std
        return mu

    def call(self, x, training=None):
        mu, logvar = self.encode(x, training=training)
        z = self.reparameterize(mu, logvar, training=training)
        return self.dec(z, training=training), mu, logvar
