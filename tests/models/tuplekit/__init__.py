"""A package re-exporting a helper of one of its files (torchtuples style)."""

from tuplekit.tree import TupleTree, tuplefy

__all__ = ["TupleTree", "tuplefy"]
