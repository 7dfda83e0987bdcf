"""Every layer case through ``run_layer_test``: the free test matrix of STYLE habit 18.

Add one ``LayerCase`` per new layer (and per setting that changes its shapes or weights);
``test_every_public_layer_has_a_case`` fails until you do.
"""

from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

from lamina import layers
from lamina.layers import (
    Activation,
    AvgPool1D,
    AvgPool2D,
    BatchNorm,
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Cropping2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    LocalContrastNorm,
    LpPool2D,
    MaxPool1D,
    MaxPool2D,
    MaxUnpool2D,
    Reshape,
    UpSampling2D,
    ZeroPadding2D,
)
from tests.helpers import run_layer_test


@dataclass(frozen=True)
class LayerCase:
    """One row of the matrix: a layer class, its kwargs, a per-sample input shape, the answers."""

    cls: type
    input_shape: tuple
    output_shape: tuple
    params: int
    kwargs: dict[str, Any] = field(default_factory=dict)
    args: tuple = ()

    @property
    def id(self) -> str:
        settings = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.cls.__name__}({', '.join(settings)})@{self.input_shape}"

    def make(self):
        return self.cls(*self.args, **self.kwargs)


def _pool_that_ran(name: str, input_shape: tuple) -> MaxPool2D:
    """A ``MaxPool2D(2, keep_indices=True)`` that has pooled a batch of 2, for its unpooling."""
    pool = MaxPool2D(2, keep_indices=True, name=name)
    pool(torch.randn(2, *input_shape))
    return pool


CONV_POOL_RESHAPE_CASES = [
    LayerCase(Conv1D, (2, 9), (4, 7), 4 * 2 * 3 + 4, args=(4, 3)),
    LayerCase(Conv1D, (2, 9), (4, 5), 4 * 2 * 3, args=(4, 3),
              kwargs={"strides": 2, "padding": "same", "activation": "tanh", "use_bias": False}),
    LayerCase(Conv2DTranspose, (3, 4, 5), (2, 6, 7), 3 * 2 * 9 + 2, args=(2, 3)),
    LayerCase(Conv2DTranspose, (2, 3, 3), (4, 6, 6), 2 * 4 * 9 + 4, args=(4, 3),
              kwargs={"strides": 2, "padding": "same", "activation": "relu"}),
    LayerCase(Conv2DTranspose, (1, 3, 3), (2, 8, 8), 2 * 9, args=(2, 3),
              kwargs={"strides": 2, "output_padding": 1, "use_bias": False}),
    LayerCase(MaxPool1D, (2, 9), (2, 4), 0, args=(2,)),
    LayerCase(AvgPool1D, (2, 7), (2, 4), 0, args=(3, 2), kwargs={"padding": "same"}),
    LayerCase(MaxPool2D, (2, 5, 5), (2, 2, 2), 0, args=(2,), kwargs={"keep_indices": True}),
    LayerCase(LpPool2D, (2, 6, 6), (2, 3, 3), 0),
    LayerCase(LpPool2D, (2, 5, 4), (2, 5, 4), 0, args=(1, (3, 2), 1), kwargs={"padding": "same"}),
    LayerCase(MaxUnpool2D, (2, 3, 3), (2, 6, 7), 0,
              kwargs={"pool": _pool_that_ran("matrix_unpool_pool", (2, 6, 7))}),
    LayerCase(GlobalAvgPool1D, (3, 6), (3,), 0),
    LayerCase(GlobalMaxPool1D, (3, 6), (3, 1), 0, kwargs={"keepdims": True}),
    LayerCase(GlobalAvgPool2D, (3, 4, 5), (3, 1, 1), 0, kwargs={"keepdims": True}),
    LayerCase(GlobalMaxPool2D, (3, 4, 5), (3,), 0),
    LayerCase(GlobalAvgPool, (3, 4, 5, 2), (3,), 0),
    LayerCase(GlobalMaxPool, (3, 6), (3, 1), 0, kwargs={"keepdims": True}),
    LayerCase(UpSampling2D, (2, 3, 4), (2, 6, 8), 0),
    LayerCase(UpSampling2D, (2, 3, 4), (2, 9, 8), 0, args=((3, 2), "bilinear")),
    LayerCase(ZeroPadding2D, (2, 3, 4), (2, 4, 6), 0, args=(((1, 0), (0, 2)),)),
    LayerCase(Cropping2D, (2, 5, 6), (2, 3, 2), 0, args=((1, 2),)),
    LayerCase(LocalContrastNorm, (3, 6, 6), (3, 6, 6), 0, args=(3,)),
    LayerCase(layers.ConvBlock, (3, 6, 6), (4, 6, 6), 116, args=(4, 3),
              kwargs={"padding": "same"}),
    LayerCase(layers.ResidualBlock, (3, 6, 6), (4, 3, 3), 288, args=(4,),
              kwargs={"strides": 2}),
    LayerCase(layers.ResidualBlock, (3, 5, 5), (4, 5, 5), 86, args=(2,),
              kwargs={"bottleneck": True, "expansion": 2}),
    LayerCase(layers.InceptionModule, (3, 5, 5), (9, 5, 5), 149, args=(2, 2, 3, 1, 2, 2)),
    LayerCase(layers.DenseBlock, (4, 5, 5), (10, 5, 5), 850, args=(2, 3)),
    LayerCase(layers.TransitionBlock, (4, 6, 6), (2, 3, 3), 16, args=(2,)),
    LayerCase(layers.MLPConv, (2, 6, 6), (3, 4, 4), 81, args=(3, 3)),
]

RECURRENT_CASES = [  # tests/recurrent/ holds the oracle tests; Embedding's matrix row is there
    LayerCase(layers.SimpleRNN, (5, 3), (4,), 4 * 3 + 4 * 4 + 2 * 4, args=(4,)),
    LayerCase(layers.SimpleRNN, (5, 3), (5, 4), 4 * 3 + 4 * 4 + 2 * 4, args=(4,),
              kwargs={"activation": "relu", "recurrent_initializer": "identity",
                      "return_sequences": True}),
    LayerCase(layers.LSTM, (5, 3), (4,), 4 * (4 * 3 + 4 * 4 + 2 * 4), args=(4,)),
    LayerCase(layers.LSTM, (5, 3), (5, 4), 4 * (4 * 3 + 4 * 4) + 3 * 4, args=(4,),
              kwargs={"peephole": True, "use_bias": False, "return_sequences": True}),
    LayerCase(layers.LSTM, (4, 2), (3,), 4 * (3 * 2 + 3 * 3 + 2 * 3), args=(3,),
              kwargs={"dropout": 0.2, "recurrent_dropout": 0.2, "go_backwards": True}),
    LayerCase(layers.GRU, (5, 3), (4,), 3 * (4 * 3 + 4 * 4 + 2 * 4), args=(4,)),
    LayerCase(layers.GRU, (6, 3), (6, 2), 3 * (2 * 3 + 2 * 2 + 2 * 2), args=(2,),
              kwargs={"return_sequences": True, "kernel_regularizer": "l2"}),
    LayerCase(layers.Bidirectional, (5, 2), (6,), 2 * 4 * (3 * 2 + 3 * 3 + 2 * 3),
              args=({"class": "LSTM", "config": {"units": 3}},)),
    LayerCase(layers.Bidirectional, (4, 3), (4, 2), 2 * 3 * (2 * 3 + 2 * 2 + 2 * 2),
              args=({"class": "GRU", "config": {"units": 2, "return_sequences": True}},),
              kwargs={"merge_mode": "sum"}),
    LayerCase(layers.TimeDistributed, (5, 4), (5, 3), 4 * 3 + 3,
              args=({"class": "Dense", "config": {"units": 3}},)),
    LayerCase(layers.TimeDistributed, (3, 1, 5, 5), (3, 2, 3, 3), 2 * 9 + 2,
              args=({"class": "Conv2D", "config": {"filters": 2, "kernel_size": 3}},)),
    LayerCase(layers.RepeatVector, (4,), (3, 4), 0, args=(3,)),
]

LAYER_CASES = [
    LayerCase(Dense, (3,), (4,), 3 * 4 + 4, args=(4,)),
    LayerCase(Dense, (2, 3), (2, 4), 3 * 4, args=(4,),
              kwargs={"activation": "relu", "use_bias": False}),
    LayerCase(Dense, (5,), (2,), 12, args=(2,),
              kwargs={"activation": "softmax", "kernel_initializer": "he_normal"}),
    LayerCase(Dense, (6,), (3,), 6 * 3 + 3, args=(3,),
              kwargs={"kernel_regularizer": "l2", "activity_regularizer": "l1"}),
    LayerCase(Activation, (3, 4), (3, 4), 0, args=("tanh",)),
    LayerCase(Activation, (6,), (6,), 0, args=("softmax",)),
    LayerCase(Flatten, (2, 3, 4), (24,), 0),
    LayerCase(Reshape, (6,), (3, 2), 0, args=((-1, 2),)),
    LayerCase(Reshape, (2, 8), (1, 4, 4), 0, args=((1, 4, 4),)),
    LayerCase(Dropout, (5,), (5,), 0, args=(0.5,)),
    LayerCase(Conv2D, (2, 6, 6), (4, 4, 4), 4 * 2 * 9 + 4, args=(4, 3)),
    LayerCase(Conv2D, (2, 7, 7), (4, 4, 4), 4 * 2 * 9 + 4, args=(4, 3),
              kwargs={"strides": 2, "padding": "same", "activation": "relu"}),
    LayerCase(Conv2D, (4, 6, 5), (2, 6, 3), 2 * 2 * 3 * 2, args=(2, (3, 2)),
              kwargs={"padding": (1, 0), "dilation_rate": (1, 2), "groups": 2,
                      "use_bias": False}),
    LayerCase(MaxPool2D, (2, 6, 6), (2, 3, 3), 0, args=(2,)),
    LayerCase(MaxPool2D, (1, 5, 5), (1, 3, 3), 0, args=(3,), kwargs={"strides": 2,
                                                                      "padding": "same"}),
    LayerCase(AvgPool2D, (2, 6, 4), (2, 3, 2), 0, args=(2,)),
    LayerCase(AvgPool2D, (2, 5, 5), (2, 3, 3), 0, args=(2,), kwargs={"padding": "same"}),
    LayerCase(BatchNorm, (3, 4, 4), (3, 4, 4), 2 * 3),
    LayerCase(BatchNorm, (5,), (5,), 2 * 5, kwargs={"momentum": 0.3}),
    LayerCase(BatchNorm, (2, 7), (2, 7), 2, kwargs={"center": False}),
    LayerCase(layers.Normalization, (3, 4, 4), (3, 4, 4), 0),
    LayerCase(layers.Normalization, (5, 2), (5, 2), 0, kwargs={"axis": None}),
    LayerCase(layers.Rescaling, (2, 3), (2, 3), 0, args=(0.5,), kwargs={"offset": 1.0}),
    LayerCase(layers.Residual, (6,), (6,), 2 * (6 * 6 + 6),
              args=([Dense(6, activation="tanh"), Dense(6)],)),
    LayerCase(layers.Residual, (2, 5, 5), (2, 5, 5), 2 * 2 * 9 + 2,
              args=(Conv2D(2, 3, padding="same"),)),
    *CONV_POOL_RESHAPE_CASES,
    *RECURRENT_CASES,
]


@pytest.mark.parametrize("case", LAYER_CASES, ids=lambda c: c.id)
def test_layer_case(case):
    run_layer_test(case.make, case.input_shape, expected_output_shape=case.output_shape,
                   expected_params=case.params)


# Merge layers take a list of tensors; tests/layers/test_merging.py runs their matrix.
MULTI_INPUT_LAYERS = {layers.Add, layers.Concatenate, layers.Multiply}
# Embedding takes integer tokens; tests/recurrent/test_embedding.py runs its matrix row.
INTEGER_INPUT_LAYERS = {layers.Embedding}


def test_every_public_layer_has_a_case():
    public = {getattr(layers, name) for name in layers.__all__}
    layer_classes = {c for c in public if isinstance(c, type) and issubclass(c, layers.Layer)}
    missing = layer_classes - {layers.Layer} - {case.cls for case in LAYER_CASES}
    missing -= MULTI_INPUT_LAYERS
    missing -= INTEGER_INPUT_LAYERS
    assert not missing, f"add LayerCase rows for {sorted(c.__name__ for c in missing)}"
