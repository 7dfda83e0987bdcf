"""The training loops behind ``Model.fit/evaluate/predict``; they work on any ``nn.Module``."""

from lamina.training.history import History
from lamina.training.trainer import Trainer

__all__ = ["History", "Trainer"]
