"""Models: ``Model`` (compile/fit/evaluate/predict), ``Sequential``, functional graphs
(``Input``, ``Model(inputs=..., outputs=...)``), and wrapping of any module."""

from lamina.models.functional import Functional, Input, SymbolicTensor
from lamina.models.model import Model
from lamina.models.sequential import Sequential
from lamina.models.wrap import WrappedModel

__all__ = ["Model", "Sequential", "Functional", "Input", "SymbolicTensor", "WrappedModel"]
