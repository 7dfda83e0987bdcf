"""Layers: each one a ``torch.nn.Module`` whose input size is inferred when it is built."""

from lamina.layers.base import Layer
from lamina.layers.conv import Conv2D
from lamina.layers.core import Activation, Dense, Dropout, Flatten, Reshape
from lamina.layers.input_spec import InputSpec
from lamina.layers.normalization import BatchNorm, BatchNormalization
from lamina.layers.pooling import AveragePooling2D, AvgPool2D, MaxPool2D, MaxPooling2D

__all__ = [
    "Layer", "InputSpec", "Dense", "Activation", "Flatten", "Reshape", "Dropout",
    "Conv2D", "MaxPool2D", "AvgPool2D", "MaxPooling2D", "AveragePooling2D",
    "BatchNorm", "BatchNormalization",
]
