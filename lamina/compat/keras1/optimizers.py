"""Keras 1's optimizers: lamina's, with Keras 1's defaults and its ``decay`` argument.

Keras 1's ``decay`` lowers the learning rate after every update (not every epoch)::

    lr(t) = lr / (1 + decay * t)        # t: the updates done so far (Keras 1's `iterations`)

Each update rule is lamina's (:mod:`lamina.optimizers`), which is Keras's: ``SGD``'s
momentum keeps the previous step in parameter units, as Keras 1's ``v = momentum * v - lr * g``.
"""

from __future__ import annotations

from lamina import optimizers
from lamina.optimizers._constraints import Number, check_constraints

__all__ = ["SGD", "Adam", "RMSprop", "Adagrad", "Adadelta", "get"]

_DECAY = {"decay": Number("decay")}


class _Keras1Decay:
    """Keras 1's per-update ``decay`` on top of a lamina optimizer.

    Each parameter group keeps its undecayed rate (``keras1_lr``) and its update count
    (``iterations``), so both travel with the optimizer's state dict (checkpoints, resume).
    """

    def _init_decay(self, decay: float, owner: str) -> None:
        check_constraints(_DECAY, owner, {"decay": decay})
        self.decay = float(decay)
        self._config["decay"] = self.decay
        if self.decay:
            self.traces_whole_step = False  # the rate changes at every step

    @property
    def iterations(self) -> int:
        """Updates done so far (Keras 1's ``optimizer.iterations``)."""
        return int(self.param_groups[0].get("iterations", 0)) if self.param_groups else 0

    def _update(self, closure=None):
        if self.decay:
            for group in self.param_groups:
                t = group.get("iterations", 0)
                group["lr"] = group.setdefault("keras1_lr", group["lr"]) / (1.0 + self.decay * t)
                group["iterations"] = t + 1
        return super()._update(closure)

    def get_config(self) -> dict:
        config = super().get_config()
        if self.param_groups and "keras1_lr" in self.param_groups[0]:
            config["lr"] = self.param_groups[0]["keras1_lr"]  # the undecayed rate
        return config


class SGD(_Keras1Decay, optimizers.SGD):
    """Keras 1's ``SGD(lr=0.01, momentum=0., decay=0., nesterov=False)``: lamina's ``SGD``
    with Keras 1's per-update ``decay``.

    Example:
        >>> opt = SGD(lr=0.1, momentum=0.8, decay=1e-6)
        >>> opt.get_config()["decay"], opt.lr
        (1e-06, 0.1)
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, decay: float = 0.0,
                 nesterov: bool = False, **kwargs):
        super().__init__(lr=lr, momentum=momentum, nesterov=nesterov, **kwargs)
        self._init_decay(decay, "SGD")


class Adam(_Keras1Decay, optimizers.Adam):
    """Keras 1's ``Adam(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, decay=0.)``.

    Example:
        >>> Adam().get_config()["epsilon"]
        1e-08
    """

    def __init__(self, lr: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, decay: float = 0.0, **kwargs):
        super().__init__(lr=lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, **kwargs)
        self._init_decay(decay, "Adam")


class RMSprop(_Keras1Decay, optimizers.RMSprop):
    """Keras 1's ``RMSprop(lr=0.001, rho=0.9, epsilon=1e-8, decay=0.)``.

    Example:
        >>> RMSprop(lr=0.01).lr
        0.01
    """

    def __init__(self, lr: float = 0.001, rho: float = 0.9, epsilon: float = 1e-8,
                 decay: float = 0.0, **kwargs):
        super().__init__(lr=lr, rho=rho, epsilon=epsilon, **kwargs)
        self._init_decay(decay, "RMSprop")


class Adagrad(_Keras1Decay, optimizers.AdaGrad):
    """Keras 1's ``Adagrad(lr=0.01, epsilon=1e-8, decay=0.)`` (accumulator starting at 0).

    Example:
        >>> Adagrad().get_config()["initial_accumulator_value"]
        0.0
    """

    def __init__(self, lr: float = 0.01, epsilon: float = 1e-8, decay: float = 0.0, **kwargs):
        kwargs.setdefault("initial_accumulator_value", 0.0)
        super().__init__(lr=lr, epsilon=epsilon, **kwargs)
        self._init_decay(decay, "Adagrad")


class Adadelta(_Keras1Decay, optimizers.AdaDelta):
    """Keras 1's ``Adadelta(lr=1.0, rho=0.95, epsilon=1e-8, decay=0.)``.

    Example:
        >>> Adadelta().lr
        1.0
    """

    def __init__(self, lr: float = 1.0, rho: float = 0.95, epsilon: float = 1e-8,
                 decay: float = 0.0, **kwargs):
        super().__init__(lr=lr, rho=rho, epsilon=epsilon, **kwargs)
        self._init_decay(decay, "Adadelta")


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad,
            "adadelta": Adadelta}


def get(optimizer):
    """Keras 1's ``compile(optimizer=...)``: a name gives Keras 1's defaults; an optimizer
    object is returned as is.

    Example:
        >>> type(get("adam")).__name__, get("adam").get_config()["epsilon"]
        ('Adam', 1e-08)
    """
    if isinstance(optimizer, str) and optimizer.lower() in _BY_NAME:
        return _BY_NAME[optimizer.lower()]()
    return optimizers.get(optimizer)
