"""Training recurrent nets through time, and watching their gradients.

- :mod:`lamina.recurrent.bptt`: full BPTT is autograd (``model.fit``); truncated BPTT(k2; k1)
  for long streams (:func:`truncated_bptt`), with the state helpers it uses.
- :mod:`lamina.recurrent.rtrl`: Real-Time Recurrent Learning, the exact gradient carried
  forwards in time (:func:`rtrl_gradients`, the online :class:`RTRL` learner).
- :func:`gradient_flow`: ``||dE/dh(t-k)||`` per lag and the spectral radius of the
  recurrent Jacobian (vanishing and exploding gradients).

Example:
    >>> import torch, lamina as lm
    >>> model = lm.Sequential([lm.layers.SimpleRNN(3), lm.layers.Dense(1)], input_shape=(5, 2))
    >>> len(lm.recurrent.rtrl_gradients(model, torch.randn(4, 5, 2), torch.randn(4, 1)))
    6
"""

from lamina.recurrent import bptt, rtrl
from lamina.recurrent.bptt import (
    TruncatedBPTT,
    carry_gradients,
    get_states,
    reset_states,
    sequence_loss,
    set_states,
    truncated_bptt,
)
from lamina.recurrent.diagnostics import GradientFlow, gradient_flow
from lamina.recurrent.rtrl import RTRL, rtrl_gradients

__all__ = ["bptt", "rtrl", "RTRL", "rtrl_gradients", "TruncatedBPTT", "truncated_bptt",
           "carry_gradients", "get_states", "set_states", "reset_states", "sequence_loss",
           "GradientFlow", "gradient_flow"]
