"""Callbacks: objects called at the start and end of training, epochs and batches."""

from lamina.callbacks.base import Callback, CallbackList, TrainingStopped
from lamina.callbacks.csv_logger import CSVLogger
from lamina.callbacks.early_stopping import EarlyStopping
from lamina.callbacks.gradient_stats import GradientStats
from lamina.callbacks.lambda_callback import LambdaCallback
from lamina.callbacks.lr_scheduler import LearningRateScheduler, ReduceLROnPlateau
from lamina.callbacks.model_checkpoint import ModelCheckpoint
from lamina.callbacks.monitor import MonitorCallback
from lamina.callbacks.progress import ProgressBar
from lamina.callbacks.tensorboard import TensorBoard
from lamina.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "Callback", "CallbackList", "TrainingStopped", "MonitorCallback", "EarlyStopping",
    "ModelCheckpoint", "CSVLogger", "LearningRateScheduler", "ReduceLROnPlateau",
    "TerminateOnNaN", "LambdaCallback", "TensorBoard", "ProgressBar", "GradientStats",
]
