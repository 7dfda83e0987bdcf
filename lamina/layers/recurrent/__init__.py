"""Recurrent layers: cells, sequence layers, sequence wrappers and ``Embedding``.

Example:
    >>> import torch
    >>> from lamina.layers import recurrent
    >>> recurrent.LSTM(4)(torch.randn(2, 6, 3)).shape
    torch.Size([2, 4])
"""

from lamina.layers.recurrent.cells import GRUCell, LSTMCell, SimpleRNNCell
from lamina.layers.recurrent.embedding import Embedding
from lamina.layers.recurrent.rnn import GRU, LSTM, RecurrentLayer, SimpleRNN
from lamina.layers.recurrent.wrappers import Bidirectional, RepeatVector, TimeDistributed

__all__ = ["SimpleRNNCell", "LSTMCell", "GRUCell", "RecurrentLayer", "SimpleRNN", "LSTM", "GRU",
           "Bidirectional", "TimeDistributed", "RepeatVector", "Embedding"]
