"""Layers: each one a ``torch.nn.Module`` whose input size is inferred when it is built."""

from lamina.layers.base import Layer
from lamina.layers.blocks import (
    ConvBlock,
    DenseBlock,
    InceptionModule,
    MLPConv,
    ResidualBlock,
    TransitionBlock,
)
from lamina.layers.conv import Conv1D, Conv2D, Conv2DTranspose
from lamina.layers.core import Activation, Dense, Dropout, Flatten, Reshape
from lamina.layers.input_spec import InputSpec
from lamina.layers.merging import Add, Concatenate, Multiply
from lamina.layers.normalization import (
    BatchNorm,
    BatchNormalization,
    LocalContrastNorm,
    LocalContrastNormalization,
)
from lamina.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AvgPool1D,
    AvgPool2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAvgPool,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    LpPool2D,
    MaxPool1D,
    MaxPool2D,
    MaxPooling1D,
    MaxPooling2D,
    MaxUnpool2D,
)
from lamina.layers.preprocessing import Normalization, Rescaling
from lamina.layers.recurrent import (
    GRU,
    LSTM,
    Bidirectional,
    Embedding,
    RepeatVector,
    SimpleRNN,
    TimeDistributed,
)
from lamina.layers.reshaping import Cropping2D, UpSampling2D, ZeroPadding2D
from lamina.layers.residual import Residual

__all__ = [
    "Layer", "InputSpec", "Dense", "Activation", "Flatten", "Reshape", "Dropout",
    "Conv2D", "MaxPool2D", "AvgPool2D", "MaxPooling2D", "AveragePooling2D",
    "BatchNorm", "BatchNormalization",
    "Conv1D", "Conv2DTranspose", "MaxPool1D", "AvgPool1D", "MaxPooling1D", "AveragePooling1D",
    "LpPool2D", "MaxUnpool2D", "GlobalAvgPool", "GlobalMaxPool", "GlobalAvgPool1D",
    "GlobalMaxPool1D", "GlobalAvgPool2D", "GlobalMaxPool2D", "GlobalAveragePooling1D",
    "GlobalMaxPooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "UpSampling2D",
    "ZeroPadding2D",
    "Cropping2D", "LocalContrastNorm", "LocalContrastNormalization",
    "Add", "Concatenate", "Multiply",
    "ConvBlock", "ResidualBlock", "InceptionModule", "DenseBlock", "TransitionBlock", "MLPConv",
    "Residual",
    "SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed", "RepeatVector", "Embedding",
    "Normalization", "Rescaling",
]
