"""Models that take token ids: a bag-of-embeddings classifier, and ids plus float features."""

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


def build_from_shapes(model, **shapes):
    """Builds a model of several inputs from their shapes, as load_model does with the ones it
    saved (Keras's default build keeps only the first input's): one call on zeros of each
    shape (None as 1), each input float or else int, the ints 0 or else 1 (sequence lengths
    cannot be 0), a tuple of tensors ((h, c)) as one; only the weights' shapes matter here."""
    given = {name: shape for name, shape in shapes.items() if shape}
    float_dtype = model.compute_dtype

    def filled(shape, dtype, value):  # an input may be a tuple of tensors: (h, c)
        if not any(isinstance(d, (tuple, list)) for d in shape):
            return tf.fill([d or 1 for d in shape], tf.constant(value, dtype))
        return tuple(filled(part, dtype, value) for part in shape)

    for ints in sorted(range(2 ** len(given)), key=lambda mask: bin(mask).count("1")):
        for fill in (0, 1) if ints else (0,):
            inputs = {
                name: filled(shape, "int32", fill)
                if ints >> i & 1
                else filled(shape, float_dtype, 0)
                for i, (name, shape) in enumerate(given.items())
            }
            try:
                model.call(**inputs, training=False)
                return
            # another dtype may do; else the first call builds the layers
            except Exception:
                continue


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


@tf.keras.utils.register_keras_serializable(package="token_models")
class BagOfEmbeddings(tf.keras.Model):
    """Token ids -> embeddings -> mean over the sequence -> class scores."""

    def __init__(self, vocab_size: int, dim: int, classes: int):
        super().__init__()
        self.init_arguments = {"vocab_size": vocab_size, "dim": dim, "classes": classes}
        self.embedding = tf.keras.layers.Embedding(
            vocab_size,
            dim,
            embeddings_initializer=tf.keras.initializers.RandomNormal(0.0, 1.0),
            name="embedding",
        )
        self.classifier = tf.keras.layers.Dense(
            classes,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(dim),
            name="classifier",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, ids: tf.Tensor, training=None) -> tf.Tensor:
        return self.classifier(tf.reduce_mean(self.embedding(ids), axis=1))


@tf.keras.utils.register_keras_serializable(package="token_models")
class IdsAndFeatures(tf.keras.Model):
    """Token ids and a float feature vector per row, combined before the head."""

    def __init__(self, vocab_size: int, dim: int, features: int, classes: int):
        super().__init__()
        self.init_arguments = {
            "vocab_size": vocab_size,
            "dim": dim,
            "features": features,
            "classes": classes,
        }
        self.embedding = tf.keras.layers.Embedding(
            vocab_size,
            dim,
            embeddings_initializer=tf.keras.initializers.RandomNormal(0.0, 1.0),
            name="embedding",
        )
        self.features = tf.keras.layers.Dense(
            dim,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(features),
            name="features",
        )
        self.norm = tf.keras.layers.LayerNormalization(
            axis=torch_normalized_axes(dim), epsilon=1e-05, name="norm"
        )
        self.head = tf.keras.layers.Dense(
            classes,
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

    def build(self, ids_shape=None, features_shape=None):
        """Keras saves these shapes for load_model, which builds the model from them."""
        build_from_shapes(self, ids=ids_shape, features=features_shape)

    def call(self, ids, features, training=None):
        pooled = tf.reduce_mean(self.embedding(ids), axis=1)
        return self.head(tf.nn.relu(self.norm(pooled + self.features(features))))
