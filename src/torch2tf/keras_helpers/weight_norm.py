import tensorflow as tf


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchWeightNorm(tf.keras.layers.Wrapper):
    """torch's weight_norm: kernel g * v / ||v||, g and v trained; Keras 3 has no such wrapper."""

    def __init__(self, layer, dim=0, g_initializer=None, g_trainable=True, **kwargs):
        super().__init__(layer, **kwargs)
        self.dim = dim  # torch's: None or -1 is the whole tensor's norm
        self.g_initializer = tf.keras.initializers.get(g_initializer)  # None: g = ||v||
        self._g_trainable = g_trainable

    @property
    def g_trainable(self):
        return self._g_trainable

    @g_trainable.setter
    def g_trainable(self, value):  # torch's weight_g.requires_grad
        self._g_trainable = bool(value)
        if self.built:
            self.g.trainable = bool(value)

    def _target(self):
        """The layer whose kernel is v (the wrapped layer, or the conv after its padding)."""
        found = [sub for sub in self.layer._flatten_layers() if hasattr(sub, "_kernel")]
        if len(found) != 1:
            raise ValueError(f"TorchWeightNorm needs one layer with a kernel, found {len(found)}")
        return found[0]

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        target = self._target()
        rank = len(target._kernel.shape)
        if self.dim is None or self.dim == -1:
            self.axes, g_shape = list(range(rank)), ()
        else:
            # torch's axis -> Keras's: Dense's kernel is (in, out), a conv's (*k, in, out)
            order = [1, 0] if rank == 2 else [rank - 1, rank - 2, *range(rank - 2)]
            axis = order[self.dim % rank]
            self.axes = [a for a in range(rank) if a != axis]
            g_shape = tuple(target._kernel.shape[a] if a == axis else 1 for a in range(rank))
        initializer = self.g_initializer
        if initializer is None:  # torch starts from g = ||v|| (v drawn first)

            def initializer(shape, dtype=None):
                return tf.cast(tf.reshape(self._norm(target._kernel), shape), dtype)

        self.g = self.add_weight(
            name="g", shape=g_shape, initializer=initializer, trainable=self.g_trainable
        )
        self.built = True

    def _norm(self, v):
        keep = len(self.axes) < len(v.shape)
        return tf.sqrt(tf.reduce_sum(tf.square(v), axis=self.axes, keepdims=keep))

    def call(self, inputs):
        target = self._target()
        v = target._kernel
        kernel = v * (self.g / self._norm(v))
        object.__setattr__(target, "_kernel", kernel)  # the layer's own op, on this kernel
        try:
            return self.layer(inputs)
        finally:
            object.__setattr__(target, "_kernel", v)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        g_initializer = None
        if self.g_initializer is not None:
            g_initializer = tf.keras.initializers.serialize(self.g_initializer)
        return {
            **super().get_config(),
            "dim": self.dim,
            "g_initializer": g_initializer,
            "g_trainable": self.g_trainable,
        }
