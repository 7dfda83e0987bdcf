"""Models: ``Model`` (compile/fit/evaluate/predict), ``Sequential``, and wrapping of any module."""

from lamina.models.model import Model
from lamina.models.sequential import Sequential
from lamina.models.wrap import WrappedModel

__all__ = ["Model", "Sequential", "WrappedModel"]
