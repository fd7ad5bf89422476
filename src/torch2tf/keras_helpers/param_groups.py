"""torch's parameter groups as one Keras optimizer of inner optimizers."""

import tensorflow as tf


class TorchParamGroups(tf.keras.optimizers.Optimizer):
    """torch's parameter groups: one inner optimizer per group; clip_grad_norm_ over them all."""

    def __init__(self, optimizers, variables, frozen_variables=(), global_clipnorm=None, name=None):
        # `variables`: one list per optimizer, of variables or of their positions (ints) in the
        # list the optimizer is built with (model.trainable_variables). `frozen_variables` (same
        # forms) are in no group: torch's optimizer does not update them.
        super().__init__(learning_rate=0.0, name=name or "torch_param_groups")
        if len(optimizers) != len(variables):
            raise ValueError(
                f"Expected one variable list per optimizer; received {len(optimizers)} "
                f"optimizers and {len(variables)} variable lists."
            )
        self.optimizers = list(optimizers)
        # Keras's own global_clipnorm differs from torch's
        self.clip_grad_norm = global_clipnorm
        # Keys and positions only: holding the variables would make Keras track them as our state.
        self._group_of = {}  # variable key -> group index (-1: frozen)
        self._group_at = {}  # position -> group index
        for index, group in list(enumerate(variables)) + [(-1, frozen_variables)]:
            for variable in group:
                if isinstance(variable, int):
                    self._group_at[variable] = index
                else:
                    self._group_of[self._var_key(variable)] = index

    @property
    def variables(self):
        return self._variables[:] + [v for opt in self.optimizers for v in opt.variables]

    @property
    def learning_rate(self):
        return self.optimizers[0].learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        raise TypeError("Set the learning rate on `optimizers[i]`: each group has its own.")

    def _split(self, grads, var_list):
        groups = [([], []) for _ in self.optimizers]
        for grad, variable in zip(grads, var_list, strict=True):
            index = self._group_of.get(self._var_key(variable))
            if index is None:
                raise ValueError(
                    f"Variable {variable.name} is in no parameter group; pass it in `variables` "
                    "or `frozen_variables`."
                )
            if index >= 0:
                groups[index][0].append(grad)
                groups[index][1].append(variable)
        return groups

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        for position, variable in enumerate(var_list):
            if position in self._group_at:
                self._group_of[self._var_key(variable)] = self._group_at[position]
        for optimizer, (_, group_vars) in zip(
            self.optimizers, self._split([None] * len(var_list), var_list), strict=True
        ):
            if group_vars:
                optimizer.build(group_vars)
        self._group_at = {
            position: self._group_of[self._var_key(variable)]
            for position, variable in enumerate(var_list)
        }

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            trainable_variables = self._trainable_variables
        trainable_variables = list(trainable_variables)
        if not self.built:
            self.build(trainable_variables)
        grads = list(grads)
        if self.clip_grad_norm:
            norms = [tf.norm(tf.convert_to_tensor(g)) for g in grads if g is not None]
            dtype = max((n.dtype for n in norms), key=lambda d: d.size)
            total = tf.norm(tf.stack([tf.cast(n, dtype) for n in norms]))
            coef = tf.minimum(tf.constant(self.clip_grad_norm, dtype) / (total + 1e-6), 1.0)
            grads = [
                g if g is None else tf.convert_to_tensor(g) * tf.cast(coef, g.dtype) for g in grads
            ]
        for optimizer, (group_grads, group_vars) in zip(
            self.optimizers, self._split(grads, trainable_variables), strict=True
        ):
            pairs = [(g, v) for g, v in zip(group_grads, group_vars, strict=True) if g is not None]
            if pairs:
                optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])
            else:  # torch's scheduler still counts the step
                optimizer.iterations.assign_add(1)
        self.iterations.assign_add(1)

    def get_config(self):
        if self._group_of and not self.built:
            raise ValueError(
                "TorchParamGroups given variables is serialized by their positions, known once "
                "built: call `build(model.trainable_variables)` first."
            )
        groups = [[] for _ in range(len(self.optimizers) + 1)]  # the last: frozen
        for position, index in sorted(self._group_at.items()):
            groups[index].append(position)
        return {
            "name": self.name,
            "optimizers": [tf.keras.optimizers.serialize(o) for o in self.optimizers],
            "variables": groups[:-1],
            "frozen_variables": groups[-1],
            "global_clipnorm": self.clip_grad_norm,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["optimizers"] = [
            tf.keras.optimizers.deserialize(o, custom_objects=custom_objects)
            for o in config["optimizers"]
        ]
        return cls(**config)
