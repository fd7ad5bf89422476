"""Torch-exact losses for tf.keras (see training.py for what these helpers share)."""

import tensorflow as tf

# --------------------------------------------------------------------------------------------------
# Losses. The class axis is last (Keras layout) and `reduction` takes torch's values. Each loss
# computes in y_pred's dtype and skips Keras's casting and reduction (`__call__` is overridden).
# --------------------------------------------------------------------------------------------------


class TorchCrossEntropyLoss(tf.keras.losses.Loss):
    """torch's CrossEntropyLoss: weights (mean over their sum) with smoothing, ignore_index."""

    def __init__(
        self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0, name=None
    ):
        super().__init__(name=name or "cross_entropy_loss", reduction=None)
        self.weight = None if weight is None else [float(w) for w in weight]
        self.ignore_index = int(ignore_index)
        self.torch_reduction = reduction
        self.label_smoothing = float(label_smoothing)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight; use the `weight` argument.")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        logits = tf.convert_to_tensor(y_pred)
        y_true = tf.convert_to_tensor(y_true)
        dtype = logits.dtype
        classes = logits.shape[-1]
        log_probs = tf.nn.log_softmax(logits, axis=-1)
        ls = self.label_smoothing
        weight = None if self.weight is None else tf.constant(self.weight, dtype)
        if y_true.shape.rank == logits.shape.rank:  # class probabilities
            target = tf.cast(y_true, dtype)
            if ls > 0:
                target = target * (1 - ls) + ls / classes
            per_class = log_probs * target if weight is None else log_probs * target * weight
            if self.torch_reduction == "none":
                return -tf.reduce_sum(per_class, axis=-1)
            total = -tf.reduce_sum(per_class)
            if self.torch_reduction == "sum":
                return total
            return total / tf.cast(tf.size(logits) // classes, dtype)
        labels = tf.cast(y_true, tf.int64)
        valid = tf.not_equal(labels, self.ignore_index)
        safe = tf.where(valid, labels, tf.zeros_like(labels))
        picked = tf.gather(log_probs, safe, axis=-1, batch_dims=labels.shape.rank)
        w = tf.ones_like(picked) if weight is None else tf.gather(weight, safe)
        w = tf.where(valid, w, tf.zeros_like(w))
        nll = tf.where(valid, -picked * w, tf.zeros_like(picked))
        if ls > 0:
            smooth = log_probs if weight is None else log_probs * weight
            smooth = tf.where(valid, -tf.reduce_sum(smooth, axis=-1), tf.zeros_like(picked))
        if self.torch_reduction == "none":
            return nll if ls == 0 else (1 - ls) * nll + smooth * (ls / classes)
        if self.torch_reduction == "sum":
            total = tf.reduce_sum(nll)
            return total if ls == 0 else (1 - ls) * total + tf.reduce_sum(smooth) * (ls / classes)
        denominator = tf.reduce_sum(w)
        mean = tf.reduce_sum(nll) / denominator
        if ls == 0:
            return mean
        return (1 - ls) * mean + tf.reduce_sum(smooth) / denominator * (ls / classes)

    def get_config(self):
        return {
            "name": self.name,
            "weight": self.weight,
            "ignore_index": self.ignore_index,
            "reduction": self.torch_reduction,
            "label_smoothing": self.label_smoothing,
        }


class TorchNLLLoss(tf.keras.losses.Loss):
    """torch's NLLLoss on any scores (Keras's SCCE renormalises them), weights, ignore_index."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", name=None):
        super().__init__(name=name or "nll_loss", reduction=None)
        self.weight = None if weight is None else [float(w) for w in weight]
        self.ignore_index = int(ignore_index)
        self.torch_reduction = reduction

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight; use the `weight` argument.")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        scores = tf.convert_to_tensor(y_pred)
        labels = tf.cast(y_true, tf.int64)
        valid = tf.not_equal(labels, self.ignore_index)
        safe = tf.where(valid, labels, tf.zeros_like(labels))
        picked = tf.gather(scores, safe, axis=-1, batch_dims=labels.shape.rank)
        if self.weight is None:
            w = tf.ones_like(picked)
        else:
            w = tf.gather(tf.constant(self.weight, scores.dtype), safe)
        w = tf.where(valid, w, tf.zeros_like(w))
        nll = tf.where(valid, -picked * w, tf.zeros_like(picked))
        if self.torch_reduction == "none":
            return nll
        if self.torch_reduction == "sum":
            return tf.reduce_sum(nll)
        return tf.reduce_sum(nll) / tf.reduce_sum(w)

    def get_config(self):
        return {
            "name": self.name,
            "weight": self.weight,
            "ignore_index": self.ignore_index,
            "reduction": self.torch_reduction,
        }


class TorchBCELoss(tf.keras.losses.Loss):
    """torch's BCELoss: logs clamped at -100 (Keras clips p to 1e-7) and torch's backward."""

    def __init__(self, weight=None, reduction="mean", name=None):
        super().__init__(name=name or "bce_loss", reduction=None)
        self.weight = weight if weight is None else tf.convert_to_tensor(weight).numpy().tolist()
        self.torch_reduction = reduction

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight; use the `weight` argument.")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        probs = tf.convert_to_tensor(y_pred)
        target = tf.cast(y_true, probs.dtype)

        @tf.custom_gradient
        def bce(p, y):
            log_p = tf.maximum(tf.math.log(p), -100.0)
            log_1mp = tf.maximum(tf.math.log1p(-p), -100.0)
            loss = (y - 1) * log_1mp - y * log_p

            def grad(upstream):
                # torch: grad * (p - y) / max((1 - p) * p, EPSILON), EPSILON = 1e-12 as a C float
                epsilon = tf.cast(tf.constant(1e-12, tf.float32), p.dtype)
                dp = upstream * (p - y) / tf.maximum((1 - p) * p, epsilon)
                return dp, upstream * (log_1mp - log_p)

            return loss, grad

        loss = bce(probs, target)
        if self.weight is not None:
            loss = loss * tf.constant(self.weight, probs.dtype)
        if self.torch_reduction == "none":
            return loss
        if self.torch_reduction == "sum":
            return tf.reduce_sum(loss)
        return tf.reduce_mean(loss)

    def get_config(self):
        return {"name": self.name, "weight": self.weight, "reduction": self.torch_reduction}


class TorchBCEWithLogitsLoss(tf.keras.losses.Loss):
    """torch's BCEWithLogitsLoss: pos_weight, element-wise weight, a true 'sum' (Keras averages)."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None, name=None):
        super().__init__(name=name or "bce_with_logits_loss", reduction=None)
        self.weight = weight if weight is None else tf.convert_to_tensor(weight).numpy().tolist()
        self.torch_reduction = reduction
        self.pos_weight = (
            pos_weight if pos_weight is None else tf.convert_to_tensor(pos_weight).numpy().tolist()
        )

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight; use the `weight` argument.")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        logits = tf.convert_to_tensor(y_pred)
        target = tf.cast(y_true, logits.dtype)
        log_sigmoid = tf.math.log_sigmoid(logits)
        if self.pos_weight is not None:
            log_weight = (tf.constant(self.pos_weight, logits.dtype) - 1) * target + 1
            log_sigmoid = log_sigmoid * log_weight
        loss = (1 - target) * logits - log_sigmoid
        if self.weight is not None:
            loss = loss * tf.constant(self.weight, logits.dtype)
        if self.torch_reduction == "none":
            return loss
        if self.torch_reduction == "sum":
            return tf.reduce_sum(loss)
        return tf.reduce_mean(loss)

    def get_config(self):
        return {
            "name": self.name,
            "weight": self.weight,
            "reduction": self.torch_reduction,
            "pos_weight": self.pos_weight,
        }


class TorchMSELoss(tf.keras.losses.Loss):
    """torch's MSELoss: mean over all elements; Keras's 'sum' is a sum of per-row means."""

    def __init__(self, reduction="mean", name=None):
        super().__init__(name=name or "mse_loss", reduction=None)
        self.torch_reduction = reduction

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight.")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        loss = tf.square(y_pred - tf.cast(y_true, y_pred.dtype))
        if self.torch_reduction == "none":
            return loss
        return tf.reduce_sum(loss) if self.torch_reduction == "sum" else tf.reduce_mean(loss)

    def get_config(self):
        return {"name": self.name, "reduction": self.torch_reduction}


class TorchL1Loss(tf.keras.losses.Loss):
    """torch's L1Loss: mean over all elements; Keras's 'sum' is a sum of per-row means."""

    def __init__(self, reduction="mean", name=None):
        super().__init__(name=name or "l1_loss", reduction=None)
        self.torch_reduction = reduction

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight.")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        loss = tf.abs(y_pred - tf.cast(y_true, y_pred.dtype))
        if self.torch_reduction == "none":
            return loss
        return tf.reduce_sum(loss) if self.torch_reduction == "sum" else tf.reduce_mean(loss)

    def get_config(self):
        return {"name": self.name, "reduction": self.torch_reduction}


class TorchSmoothL1Loss(tf.keras.losses.Loss):
    """torch's SmoothL1Loss(beta) = Huber(delta=beta) / beta, and plain L1 when beta is 0."""

    def __init__(self, reduction="mean", beta=1.0, name=None):
        super().__init__(name=name or "smooth_l1_loss", reduction=None)
        self.torch_reduction = reduction
        self.beta = float(beta)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight.")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        diff = tf.abs(y_pred - tf.cast(y_true, y_pred.dtype))
        if self.beta == 0:
            loss = diff
        else:
            loss = tf.where(diff < self.beta, 0.5 * diff * diff / self.beta, diff - 0.5 * self.beta)
        if self.torch_reduction == "none":
            return loss
        return tf.reduce_sum(loss) if self.torch_reduction == "sum" else tf.reduce_mean(loss)

    def get_config(self):
        return {"name": self.name, "reduction": self.torch_reduction, "beta": self.beta}


class TorchHuberLoss(tf.keras.losses.Loss):
    """torch's HuberLoss: Keras's Huber computed in the input dtype, with torch's reductions."""

    def __init__(self, reduction="mean", delta=1.0, name=None):
        super().__init__(name=name or "huber_loss", reduction=None)
        self.torch_reduction = reduction
        self.delta = float(delta)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight.")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        diff = tf.abs(y_pred - tf.cast(y_true, y_pred.dtype))
        delta = self.delta
        loss = tf.where(diff < delta, 0.5 * diff * diff, delta * (diff - 0.5 * delta))
        if self.torch_reduction == "none":
            return loss
        return tf.reduce_sum(loss) if self.torch_reduction == "sum" else tf.reduce_mean(loss)

    def get_config(self):
        return {"name": self.name, "reduction": self.torch_reduction, "delta": self.delta}


class TorchKLDivLoss(tf.keras.losses.Loss):
    """torch's KLDivLoss(log q, p): no clipping of q; 'mean' divides by every element."""

    def __init__(self, reduction="mean", log_target=False, name=None):
        super().__init__(name=name or "kl_div_loss", reduction=None)
        self.torch_reduction = reduction
        self.log_target = bool(log_target)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight.")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        log_q = tf.convert_to_tensor(y_pred)
        target = tf.cast(y_true, log_q.dtype)
        if self.log_target:
            loss = tf.exp(target) * (target - log_q)
        else:
            loss = tf.math.xlogy(target, target) - target * log_q
        if self.torch_reduction == "none":
            return loss
        if self.torch_reduction == "sum":
            return tf.reduce_sum(loss)
        if self.torch_reduction == "batchmean" and log_q.shape.rank > 0:
            return tf.reduce_sum(loss) / tf.cast(tf.shape(log_q)[0], log_q.dtype)
        if self.torch_reduction == "batchmean":
            return tf.reduce_sum(loss)
        return tf.reduce_mean(loss)

    def get_config(self):
        return {"name": self.name, "reduction": self.torch_reduction, "log_target": self.log_target}
