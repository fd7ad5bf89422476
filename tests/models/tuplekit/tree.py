"""Tuple trees: nested tuples of sizes, flattened with a method named like Tensor.flatten."""

import itertools


def is_flat(data):
    return not any(type(sub) in _CONTAINERS for sub in data)


def flatten_tuple(data):
    new = TupleTree(sub if type(sub) in _CONTAINERS else (sub,) for sub in data)
    new = TupleTree(itertools.chain.from_iterable(new))
    if new.is_flat():  # a method called on a local: reach keeps it
        return new
    return flatten_tuple(new)


def tuplefy(*data, types=(list, tuple)):
    def _tuplefy(data, first=False):
        if type(data) in types or first:
            return TupleTree(_tuplefy(sub) for sub in data)
        return data

    if len(data) == 1 and type(data[0]) in types:
        data = data[0]
    data = TupleTree(data)
    return _tuplefy(data, first=True)


class TupleTree(tuple):
    def is_flat(self):
        return is_flat(self)

    def flatten(self):
        return flatten_tuple(self)


_CONTAINERS = [TupleTree]
