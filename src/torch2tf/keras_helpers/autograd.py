"""torch.autograd.Function -> a class run under tf.custom_gradient (its own backward)."""

import tensorflow as tf


class TorchFunctionContext:
    """torch's ``ctx`` of an autograd.Function: attributes set in forward, read in backward."""

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors


class TorchFunction:
    """torch.autograd.Function: ``apply`` runs the static ``forward(ctx, ...)`` under
    tf.custom_gradient, whose gradient is the class's ``backward(ctx, *grads)``."""

    @classmethod
    def apply(cls, *args):
        # tensor arguments get gradients; the others (dim=-1) are passed as they are
        tensors = [i for i, arg in enumerate(args) if tf.is_tensor(arg)]
        ctx = TorchFunctionContext()

        @tf.custom_gradient
        def run(*inputs):
            given = list(args)
            for i, value in zip(tensors, inputs, strict=True):
                given[i] = value
            output = cls.forward(ctx, *given)

            def gradient(*upstream):
                grads = cls.backward(ctx, *upstream)
                grads = grads if isinstance(grads, tuple) else (grads,)
                # torch's None: no gradient for that input
                return [grads[i] if i < len(grads) else None for i in tensors]

            return output, gradient

        return run(*[tf.convert_to_tensor(args[i]) for i in tensors])
