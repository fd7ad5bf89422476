import tensorflow as tf


def torch_flatten(x, start_dim=0, end_dim=-1):
    """torch.flatten(x, start_dim, end_dim); a tf.reshape with tf.shape would lose static sizes."""
    rank = len(x.shape)
    if rank == 0:
        return tf.reshape(x, [1])
    if not (-rank <= start_dim < rank and -rank <= end_dim < rank):
        raise IndexError(f"flatten dims ({start_dim}, {end_dim}) out of range for rank {rank}")
    start, end = start_dim % rank, end_dim % rank
    if start > end:
        raise ValueError("flatten: start_dim comes after end_dim")
    sizes = tf.keras.ops.shape(x)
    merged = 1
    for size in sizes[start : end + 1]:
        merged = merged * size
    return tf.reshape(x, [*sizes[:start], merged, *sizes[end + 1 :]])


def torch_flatten_batch(x):
    """x.view(x.size(0), -1); tf.reshape(x, (tf.shape(x)[0], -1)) loses the size of the -1 dim."""
    rest = x.shape[1:]
    if rest.is_fully_defined():
        return tf.reshape(x, (-1, rest.num_elements()))
    return tf.reshape(x, (tf.shape(x)[0], -1))


def torch_squeeze(x, dim):
    """torch's squeeze(dim) leaves a dim whose size is not 1 as it is; tf.squeeze raises."""
    dims = dim if isinstance(dim, (tuple, list)) else [dim]
    # A size unknown until run time is left to tf.squeeze, which checks it then.
    axes = [d for d in dims if x.shape[d] in (1, None)]
    return tf.squeeze(x, axes) if axes else x


def torch_split(x, split_size, dim=0):
    """torch.split: an int is the size of each piece (the last may be smaller), not their count."""
    if not isinstance(split_size, int):
        return tf.split(x, list(split_size), axis=dim)
    total = x.shape[dim]
    if total is None:
        raise ValueError(f"torch.split by size needs a static size for dim {dim}")
    sizes = [split_size] * (total // split_size)
    if total % split_size:
        sizes.append(total % split_size)
    return tf.split(x, sizes, axis=dim)


class TorchStaticShape(tuple):
    """x.shape where torch computes with a size as a Python number (int(np.ceil(x.shape[0] /
    n))): a size TensorFlow leaves open (None) has no such value, said at its source line."""

    def __new__(cls, x, where):
        shape = super().__new__(cls, tuple(x.shape))
        shape.where = where
        return shape

    def __getitem__(self, index):
        size = super().__getitem__(index)
        if size is None or (isinstance(size, tuple) and None in size):
            raise ValueError(
                f"{self.where}: torch computes with this size as a Python number and TensorFlow "
                "has none here (a dimension left open, such as a SavedModel's batch): call the "
                "model on inputs of known shape (eagerly, or tf.function with a fixed shape)"
            )
        return size


def torch_chunk(x, chunks, dim=0):
    """torch.chunk: pieces of ceil(n / chunks), so maybe fewer pieces; tf.split needs equal ones."""
    total = x.shape[dim]
    if total is None:
        raise ValueError(f"torch.chunk needs a static size for dim {dim}")
    size = max(-(-total // chunks), 1)
    sizes = [size] * (total // size)
    if total % size:
        sizes.append(total % size)
    return tf.split(x, sizes, axis=dim)


def torch_var(x, dim=None, correction=1, keepdim=False):
    """torch's var divides by N - correction (default 1); tf.math.reduce_variance by N."""
    mean = tf.reduce_mean(x, axis=dim, keepdims=True)
    squares = tf.reduce_sum(tf.square(x - mean), axis=dim, keepdims=keepdim)
    count = tf.cast(tf.size(x) // tf.maximum(tf.size(mean), 1), x.dtype)
    return squares / tf.maximum(count - correction, 0)


def torch_std(x, dim=None, correction=1, keepdim=False):
    """torch's std divides by N - correction (default 1); tf.math.reduce_std by N."""
    mean = tf.reduce_mean(x, axis=dim, keepdims=True)
    squares = tf.reduce_sum(tf.square(x - mean), axis=dim, keepdims=keepdim)
    count = tf.cast(tf.size(x) // tf.maximum(tf.size(mean), 1), x.dtype)
    return tf.sqrt(squares / tf.maximum(count - correction, 0))


def torch_var_mean(x, dim=None, correction=1, keepdim=False):
    """torch.var_mean gives (var, mean) at once; var as torch_var computes it."""
    return torch_var(x, dim, correction, keepdim), tf.reduce_mean(x, axis=dim, keepdims=keepdim)


def torch_std_mean(x, dim=None, correction=1, keepdim=False):
    """torch.std_mean gives (std, mean) at once; std as torch_std computes it."""
    return torch_std(x, dim, correction, keepdim), tf.reduce_mean(x, axis=dim, keepdims=keepdim)


def torch_max(x, dim, keepdim=False):
    """torch.max(x, dim) gives (values, indices); TensorFlow computes them with two ops.
    torch.max(x, y) with y a tensor (the source does not tell which): elementwise."""
    if not hasattr(dim, "__index__") or tf.is_tensor(dim):  # not a Python or NumPy int
        return tf.maximum(x, dim)
    values = tf.reduce_max(x, axis=dim, keepdims=keepdim)
    indices = tf.argmax(x, axis=dim)
    if keepdim:
        indices = tf.expand_dims(indices, dim)
    return values, indices


def torch_min(x, dim, keepdim=False):
    """torch.min(x, dim) gives (values, indices); TensorFlow computes them with two ops.
    torch.min(x, y) with y a tensor (the source does not tell which): elementwise."""
    if not hasattr(dim, "__index__") or tf.is_tensor(dim):  # not a Python or NumPy int
        return tf.minimum(x, dim)
    values = tf.reduce_min(x, axis=dim, keepdims=keepdim)
    indices = tf.argmin(x, axis=dim)
    if keepdim:
        indices = tf.expand_dims(indices, dim)
    return values, indices


def torch_sort(x, dim=-1, descending=False):
    """torch.sort gives (values, int64 indices); TensorFlow computes them with two ops."""
    direction = "DESCENDING" if descending else "ASCENDING"
    indices = tf.argsort(x, axis=dim, direction=direction, stable=True)
    return tf.sort(x, axis=dim, direction=direction), tf.cast(indices, tf.int64)


def torch_gather(x, dim, index):
    """torch.gather: values of x at index along dim; the other dims are batch dims (index may
    be shorter there: x is cut to its size first, as torch reads only that part)."""
    rank = len(x.shape)
    dim = dim % rank
    x = tf.slice(x, [0] * rank, [-1 if d == dim else tf.shape(index)[d] for d in range(rank)])
    order = [d for d in range(rank) if d != dim] + [dim]
    picked = tf.gather(
        tf.transpose(x, order), tf.transpose(index, order), axis=rank - 1, batch_dims=rank - 1
    )
    return tf.transpose(picked, tf.math.invert_permutation(order))


def torch_mask_assign(x, mask, value):
    """x[mask] = value (a boolean mask over x's leading dims, a number): x with value where
    mask holds, as a new tensor (TensorFlow tensors cannot be assigned into)."""
    mask = tf.convert_to_tensor(mask)
    extra = len(x.shape) - len(mask.shape)
    mask = tf.reshape(mask, tf.concat([tf.shape(mask), tf.ones([extra], tf.int32)], 0))
    return tf.where(mask, tf.cast(value, x.dtype), x)


def torch_arange(start, end=None, step=1):
    """torch.arange gives int64, or float32 if a bound is a float; tf.range gives int32."""
    if end is None:
        start, end = 0, start
    floating = any(
        isinstance(v, float) or (tf.is_tensor(v) and v.dtype.is_floating)
        for v in (start, end, step)
    )
    return tf.range(start, end, step, dtype=tf.float32 if floating else tf.int64)


def torch_expand(x, sizes):
    """torch's expand: -1 keeps that dim's size; tf.broadcast_to needs every size."""
    current = tf.keras.ops.shape(x)
    offset = len(sizes) - len(current)
    target = [
        current[i - offset] if isinstance(s, int) and s == -1 else s for i, s in enumerate(sizes)
    ]
    return tf.broadcast_to(x, target)


def torch_softplus(x, beta=1.0, threshold=20.0):
    """torch's softplus(beta, threshold) is linear where beta * x > threshold; TF's has neither."""
    scaled = x * beta
    return tf.where(scaled > threshold, x, tf.nn.softplus(scaled) / beta)


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
            raise RuntimeError(f"Expected one of {', '.join(cls.TYPES)} device type: {spec}")
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


def torch_tril(x, diagonal=0):
    """torch.tril with a diagonal offset: tf.linalg.band_part takes none."""
    rows = tf.range(tf.shape(x)[-2])[:, None]
    cols = tf.range(tf.shape(x)[-1])[None, :]
    return tf.where(cols - rows <= diagonal, x, tf.zeros_like(x))


def torch_triu(x, diagonal=0):
    """torch.triu with a diagonal offset: tf.linalg.band_part takes none."""
    rows = tf.range(tf.shape(x)[-2])[:, None]
    cols = tf.range(tf.shape(x)[-1])[None, :]
    return tf.where(cols - rows >= diagonal, x, tf.zeros_like(x))


def torch_tensor(data):
    """torch.tensor(data) without dtype=: torch makes Python ints int64, TensorFlow int32."""

    def python_ints(item):
        if isinstance(item, (list, tuple)):
            return all(python_ints(i) for i in item)
        return isinstance(item, int) and not isinstance(item, bool)

    value = tf.convert_to_tensor(data)
    if value.dtype == tf.int32 and python_ints(data):
        return tf.cast(value, tf.int64)
    return value


def torch_requires_grad(tensor):
    """torch's ``tensor.requires_grad``: TensorFlow tensors carry no such flag (a tape decides
    what is differentiated), so reaching it stops with this error instead of guessing."""
    raise NotImplementedError(
        "Tensor.requires_grad has no TensorFlow equivalent: this branch of the torch model "
        "(e.g. choosing activation checkpointing) is not translated"
    )


def torch_bernoulli(x, p=None):
    """torch's bernoulli: 1 with probability p (x's values without p), else 0, in x's dtype."""
    probability = x if p is None else p
    draw = tf.random.uniform(tf.shape(x), dtype=x.dtype)
    return tf.cast(draw < probability, x.dtype)


def torch_numpy(x):
    """x.numpy() run eagerly, as torch's forward always is; a traced graph has no values."""
    if not tf.executing_eagerly():
        raise RuntimeError(
            "Tensor.numpy() in call(): a traced TensorFlow graph has no values; run the model "
            "eagerly (run_eagerly=True) or turn off the switch that reads it"
        )
    return x.numpy()


def torch_linspace(start, end, steps, dtype=tf.float32):
    """torch.linspace: its first half counts up from start, the rest down from end (so end is
    exact, to float rounding as torch's); tf.linspace counts all from start. Float32 default."""
    if steps == 1:
        return tf.reshape(tf.cast(start, dtype), [1])
    start, end = tf.cast(start, dtype), tf.cast(end, dtype)
    step = (end - start) / tf.cast(steps - 1, dtype)
    index = tf.range(steps, dtype=dtype)
    up = start + step * index
    down = end - step * (tf.cast(steps - 1, dtype) - index)
    return tf.where(index < steps // 2, up, down)


def torch_setitem(variable, index, value):
    """buffer[index] = value outside __init__: torch writes the buffer in place (value cast to
    its dtype and broadcast); a Keras variable is written by a sliced assign."""
    target = variable.value if isinstance(variable, tf.keras.Variable) else variable
    target[index].assign(tf.broadcast_to(tf.cast(value, target.dtype), tf.shape(target[index])))


def torch_one_hot(x, num_classes):
    """F.one_hot: int64 rows; torch refuses an index outside [0, num_classes), tf.one_hot would
    give a row of zeros, so it is checked."""
    if num_classes < 0:
        raise ValueError("one_hot: num_classes=-1 (counted from the data) is not translated")
    tf.debugging.assert_non_negative(x, message="one_hot: class values must be non-negative")
    tf.debugging.assert_less(
        x, tf.cast(num_classes, x.dtype), message="one_hot: class values must be < num_classes"
    )
    return tf.one_hot(x, num_classes, dtype=tf.int64)
