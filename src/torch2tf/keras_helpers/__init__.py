"""TensorFlow-only helpers that generated code needs where Keras has no exact torch equivalent.

The translator copies the top-level definitions a file uses, verbatim, into that file; so each one
depends on TensorFlow (and ``math``) alone and carries a one-line docstring saying why it exists.
This package is never imported on the translate path; torch2tf reads these files as text.
"""
