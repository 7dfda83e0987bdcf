"""Callbacks: objects called at the start and end of training, epochs and batches."""

from lamina.callbacks.base import Callback, CallbackList
from lamina.callbacks.progress import ProgressBar

__all__ = ["Callback", "CallbackList", "ProgressBar"]
