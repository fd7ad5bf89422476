"""A tabular MLP with categorical embeddings, in the style of tabular-DL code (for tests)."""

import math
import typing as ty

import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
def torch_default_kernel():
    """torch's default Linear weight init, U(+-1/sqrt(fan_in)); Keras's is glorot_uniform."""
    return tf.keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")


def torch_default_bias(fan_in):
    """torch's default Linear bias init, U(+-1/sqrt(fan_in)); Keras's is zeros."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return tf.keras.initializers.RandomUniform(-bound, bound)


def torch_variable(layer, name, value, trainable):
    """A variable holding a computed tensor: torch's nn.Parameter / register_buffer of one."""
    value = tf.convert_to_tensor(value)
    dtype = value.dtype
    # the model's float type, as torch's .double() moves every one
    if dtype.is_floating:
        dtype = layer.variable_dtype
    return layer.add_weight(
        name=name,
        shape=value.shape,
        dtype=dtype,
        trainable=trainable,
        initializer=lambda shape, dtype: tf.cast(value, dtype),
    )


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


def torch_squeeze(x, dim):
    """torch's squeeze(dim) leaves a dim whose size is not 1 as it is; tf.squeeze raises."""
    dims = dim if isinstance(dim, (tuple, list)) else [dim]
    # A size unknown until run time is left to tf.squeeze, which checks it then.
    axes = [d for d in dims if x.shape[d] in (1, None)]
    return tf.squeeze(x, axes) if axes else x


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


@tf.keras.utils.register_keras_serializable(package="tabular_style")
class TabularMLP(tf.keras.Model):
    def __init__(
        self,
        *,
        d_in: int,
        d_layers: ty.List[int],
        dropout: float,
        d_out: int,
        categories: ty.Optional[ty.List[int]],
        d_embedding: int,
    ) -> None:
        super().__init__()
        self.init_arguments = {
            "d_in": d_in,
            "d_layers": d_layers,
            "dropout": dropout,
            "d_out": d_out,
            "categories": categories,
            "d_embedding": d_embedding,
        }

        if categories is not None:
            d_in += len(categories) * d_embedding
            category_offsets = tf.math.cumsum(
                tf.constant([0] + categories[:-1], dtype=tf.int64), axis=0
            )
            self.category_offsets = torch_variable(
                self, "category_offsets", category_offsets, trainable=False
            )
            self.category_embeddings = tf.keras.layers.Embedding(
                sum(categories),
                d_embedding,
                embeddings_initializer=tf.keras.initializers.VarianceScaling(
                    0.33333333333333326, "fan_out", "uniform"
                ),
                name="category_embeddings",
            )

        self.layers_ = [
            tf.keras.layers.Dense(
                x,
                kernel_initializer=torch_default_kernel(),
                bias_initializer=torch_default_bias(d_layers[i - 1] if i else d_in),
            )
            for i, x in enumerate(d_layers)
        ]
        self.dropout = dropout
        self.head = tf.keras.layers.Dense(
            d_out,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(d_layers[-1] if d_layers else d_in),
            name="head",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def build(self, x_num_shape=None, x_cat_shape=None):
        """Keras saves these shapes for load_model, which builds the model from them."""
        build_from_shapes(self, x_num=x_num_shape, x_cat=x_cat_shape)

    def call(
        self, x_num: tf.Tensor, x_cat: ty.Optional[tf.Tensor], training=None
    ) -> tf.Tensor:
        x = []
        if x_num is not None:
            x.append(x_num)
        if x_cat is not None:
            x.append(
                tf.reshape(
                    self.category_embeddings(x_cat + self.category_offsets[None]),
                    (tf.keras.ops.shape(x_cat)[0], -1),
                )
            )
        x = tf.concat(x, axis=-1)

        for layer in self.layers_:
            x = layer(x)
            x = tf.nn.relu(x)
            if self.dropout:
                x = tf.nn.dropout(x, rate=self.dropout) if training else x
        x = self.head(x)
        x = torch_squeeze(x, -1)
        return x
