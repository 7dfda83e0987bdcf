"""Keras 1's layer constructors, returning lamina layers (channels-first, as the decks use).

Each function takes Keras 1's arguments (``Convolution2D(nb_filter, nb_row, nb_col,
border_mode=..., subsample=..., init=...)``, ``Dense(output_dim, input_dim=...)``) and
returns the lamina layer that computes the same thing (``layers.Conv2D``,
``layers.Dense``, ...), so a model built with them is an ordinary lamina model: it trains,
summarizes, saves and loads as one.

What differs from Keras 1:

- images are channels-first (Keras 1's ``dim_ordering='th'``, its Theano default and the
  decks' ``input_shape=(depth, height, width)``); ``dim_ordering='tf'`` raises;
- weights have lamina's (torch's) layouts in ``get_weights``/``set_weights``: a ``Dense``
  kernel is ``(output_dim, input_dim)``; ``weights=`` and the ``*_constraint`` arguments
  are not taken (build the model, then call ``model.set_weights``);
- a convolution is a cross-correlation (Keras 1 on Theano flipped the kernel, which only
  matters when importing its trained weights).
"""

from __future__ import annotations

from lamina import layers, regularizers
from lamina.compat.keras1 import initializers
from lamina.errors import message
from lamina.layers.symbolic import Input as _lamina_input

__all__ = ["Dense", "Convolution2D", "Conv2D", "MaxPooling2D", "AveragePooling2D",
           "Activation", "Dropout", "Flatten", "Reshape", "Input"]

_LAYER_KWARGS = ("input_shape", "batch_input_shape", "name", "trainable")


def _common(owner: str, kwargs: dict, input_dim=None) -> dict:
    """The lamina keyword arguments for Keras 1's per-layer ``**kwargs`` (``input_shape``,
    ``batch_input_shape``, ``input_dim``, ``name``); anything else raises."""
    unknown = [k for k in kwargs if k not in _LAYER_KWARGS]
    if unknown:
        raise TypeError(message(
            f"{owner} of lamina.compat.keras1 got unexpected arguments {unknown}.",
            expected=f"Keras 1's arguments of {owner}, plus {list(_LAYER_KWARGS)}"))
    out = {"name": kwargs.get("name")}
    shape = kwargs.get("input_shape")
    if kwargs.get("batch_input_shape") is not None:
        shape = tuple(kwargs["batch_input_shape"])[1:]
    if input_dim is not None:
        shape = (input_dim,)
    if shape is not None:
        out["input_shape"] = tuple(shape)
    return out


def _finish(layer, kwargs: dict):
    if kwargs.get("trainable") is False:
        layer.trainable = False
    return layer


def _check_unsupported(owner: str, **values) -> None:
    given = [k for k, v in values.items() if v is not None]
    if given:
        raise ValueError(message(
            f"{owner} of lamina.compat.keras1 does not take {given}.",
            fix="Build the model, then call `model.set_weights(...)` (lamina's layouts), and "
                "use lamina's optimizers' `clipnorm`/`clipvalue` instead of constraints."))


def _check_th(owner: str, dim_ordering: str) -> None:
    if dim_ordering not in ("default", "th"):
        raise ValueError(message(
            f"{owner} of lamina.compat.keras1 works on channels-first images only.",
            expected="dim_ordering='th' (or 'default')", received=f"dim_ordering={dim_ordering!r}",
            fix="Transpose your images to (N, channels, height, width) and use "
                "dim_ordering='th'."))


def _activation(activation):
    return None if activation in (None, "linear") else activation


def Dense(output_dim: int, init="glorot_uniform", activation=None, weights=None,  # noqa: N802
          W_regularizer=None, b_regularizer=None, activity_regularizer=None,  # noqa: N803
          W_constraint=None, b_constraint=None, bias: bool = True, input_dim=None,  # noqa: N803
          **kwargs) -> layers.Dense:
    """Keras 1's fully connected layer ``y = f(W x + b)``, as ``lamina.layers.Dense``.

    Args:
        output_dim: number of units.
        init: Keras 1's initializer name (see :mod:`lamina.compat.keras1.initializers`).
            Defaults to ``"glorot_uniform"``.
        activation: a name; ``None`` or ``"linear"`` is the identity.
        W_regularizer, b_regularizer, activity_regularizer: lamina or Keras 1 regularizers
            (``l2(0.01)``).
        bias: whether to add ``b``. Defaults to True.
        input_dim: the input size, for a first layer (same as ``input_shape=(input_dim,)``).
        **kwargs: ``input_shape``, ``batch_input_shape``, ``name``, ``trainable``.

    Example:
        >>> Dense(10, init="lecun_uniform", input_dim=784).declared_input_shape
        (784,)
    """
    _check_unsupported("Dense", weights=weights, W_constraint=W_constraint,
                       b_constraint=b_constraint)
    layer = layers.Dense(output_dim, _activation(activation), use_bias=bias,
                         kernel_initializer=initializers.get(init),
                         kernel_regularizer=regularizers.get(W_regularizer),
                         bias_regularizer=regularizers.get(b_regularizer),
                         activity_regularizer=regularizers.get(activity_regularizer),
                         **_common("Dense", kwargs, input_dim))
    return _finish(layer, kwargs)


def Convolution2D(nb_filter: int, nb_row: int, nb_col: int, init="glorot_uniform",  # noqa: N802
                  activation=None, weights=None, border_mode: str = "valid", subsample=(1, 1),
                  dim_ordering: str = "default", W_regularizer=None,  # noqa: N803
                  b_regularizer=None, activity_regularizer=None, W_constraint=None,  # noqa: N803
                  b_constraint=None, bias: bool = True, **kwargs) -> layers.Conv2D:  # noqa: N803
    """Keras 1's 2-D convolution with an ``nb_row x nb_col`` kernel, as ``lamina.layers.Conv2D``.

    ``Convolution2D(32, 3, 3)`` is ``Conv2D(32, (3, 3))``: ``nb_row`` and ``nb_col`` are the
    kernel's size (lamina's and Keras 2's third positional argument is the stride).

    Args:
        nb_filter: number of output maps.
        nb_row, nb_col: kernel height and width.
        init: Keras 1's initializer name. Defaults to ``"glorot_uniform"``.
        activation: a name; ``None`` or ``"linear"`` is the identity.
        border_mode: ``"valid"`` or ``"same"``. Defaults to ``"valid"``.
        subsample: the strides ``(sh, sw)``. Defaults to ``(1, 1)``.
        dim_ordering: ``"default"`` or ``"th"`` (channels-first).
        W_regularizer, b_regularizer, activity_regularizer, bias: as for :func:`Dense`.
        **kwargs: ``input_shape`` (``(channels, height, width)``), ``batch_input_shape``,
            ``name``, ``trainable``.

    Example:
        >>> conv = Convolution2D(32, 3, 3, border_mode="valid", input_shape=(1, 28, 28))
        >>> conv.kernel_size, conv.strides
        ((3, 3), (1, 1))
    """
    _check_unsupported("Convolution2D", weights=weights, W_constraint=W_constraint,
                       b_constraint=b_constraint)
    _check_th("Convolution2D", dim_ordering)
    layer = layers.Conv2D(nb_filter, (nb_row, nb_col), strides=subsample, padding=border_mode,
                          activation=_activation(activation), use_bias=bias,
                          kernel_initializer=initializers.get(init),
                          kernel_regularizer=regularizers.get(W_regularizer),
                          bias_regularizer=regularizers.get(b_regularizer),
                          activity_regularizer=regularizers.get(activity_regularizer),
                          **_common("Convolution2D", kwargs))
    return _finish(layer, kwargs)


#: Keras 1's short alias.
Conv2D = Convolution2D


def _pooling(cls, owner: str, pool_size, strides, border_mode, dim_ordering, kwargs):
    _check_th(owner, dim_ordering)
    return _finish(cls(tuple(pool_size), None if strides is None else tuple(strides),
                       border_mode, **_common(owner, kwargs)), kwargs)


def MaxPooling2D(pool_size=(2, 2), strides=None, border_mode: str = "valid",  # noqa: N802
                 dim_ordering: str = "default", **kwargs) -> layers.MaxPool2D:
    """Keras 1's max pooling, as ``lamina.layers.MaxPool2D``.

    Args:
        pool_size: ``(ph, pw)``. Defaults to ``(2, 2)``.
        strides: ``(sh, sw)``. Defaults to ``pool_size``.
        border_mode: ``"valid"`` or ``"same"``. Defaults to ``"valid"``.
        dim_ordering: ``"default"`` or ``"th"``.
        **kwargs: ``input_shape``, ``batch_input_shape``, ``name``.

    Example:
        >>> MaxPooling2D(pool_size=(2, 2)).pool_size
        (2, 2)
    """
    return _pooling(layers.MaxPool2D, "MaxPooling2D", pool_size, strides, border_mode,
                    dim_ordering, kwargs)


def AveragePooling2D(pool_size=(2, 2), strides=None, border_mode: str = "valid",  # noqa: N802
                     dim_ordering: str = "default", **kwargs) -> layers.AvgPool2D:
    """Keras 1's average pooling, as ``lamina.layers.AvgPool2D`` (arguments as
    :func:`MaxPooling2D`).

    Example:
        >>> AveragePooling2D((3, 3), strides=(1, 1)).strides
        (1, 1)
    """
    return _pooling(layers.AvgPool2D, "AveragePooling2D", pool_size, strides, border_mode,
                    dim_ordering, kwargs)


def Activation(activation, **kwargs) -> layers.Activation:  # noqa: N802
    """Keras 1's activation layer (``"linear"`` is the identity), as ``lamina.layers.Activation``.

    Example:
        >>> Activation("softmax").activation_name
        'softmax'
    """
    return _finish(layers.Activation(_activation(activation) or "linear",
                                     **_common("Activation", kwargs)), kwargs)


def Dropout(p: float, **kwargs) -> layers.Dropout:  # noqa: N802
    """Keras 1's dropout of a fraction ``p`` of the inputs during training (inverted
    dropout), as ``lamina.layers.Dropout(rate=p)``.

    Example:
        >>> Dropout(0.25).rate
        0.25
    """
    return _finish(layers.Dropout(p, **_common("Dropout", kwargs)), kwargs)


def Flatten(**kwargs) -> layers.Flatten:  # noqa: N802
    """Keras 1's flattening of each sample to a vector, as ``lamina.layers.Flatten``.

    Example:
        >>> type(Flatten()).__name__
        'Flatten'
    """
    return _finish(layers.Flatten(**_common("Flatten", kwargs)), kwargs)


def Reshape(target_shape, **kwargs) -> layers.Reshape:  # noqa: N802
    """Keras 1's reshaping of each sample to ``target_shape``, as ``lamina.layers.Reshape``.

    Example:
        >>> Reshape((1, 28, 28)).target_shape
        (1, 28, 28)
    """
    return _finish(layers.Reshape(target_shape, **_common("Reshape", kwargs)), kwargs)


def Input(shape=None, batch_shape=None, name: str | None = None, dtype=None):  # noqa: N802
    """Keras 1's symbolic input of a functional model, as ``lamina.Input``.

    Args:
        shape: the per-sample shape (channels first for images).
        batch_shape: the shape with its batch axis, instead of ``shape``.
        name: the input's name.
        dtype: accepted for Keras 1's signature; inputs are float32.

    Example:
        >>> Input(shape=(784,)).shape
        (784,)
    """
    if (shape is None) == (batch_shape is None):
        raise ValueError(message("Input of lamina.compat.keras1 takes `shape` or `batch_shape`.",
                                 received=f"shape={shape!r}, batch_shape={batch_shape!r}"))
    return _lamina_input(tuple(shape) if shape is not None else tuple(batch_shape)[1:],
                         name=name)
