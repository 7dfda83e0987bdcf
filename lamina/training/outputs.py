"""A model's outputs as ``fit`` sees them: each one's loss, loss weight and metrics.

``compile(loss=..., loss_weights=..., metrics=..., weighted_metrics=...)`` is resolved here
against the model's output names, as Keras 3 resolves it:

- ``loss``: one loss for every output, a list (one per output) or a dict keyed by output
  name (every output named); ``None`` for an output trains nothing on it;
- ``loss_weights``: a list or a dict (missing outputs weigh 1); the minimized loss is
  ``sum_k loss_weight_k * loss_k`` (plus the weight penalties);
- ``metrics`` / ``weighted_metrics``: for one output, a list; for several, a list with one
  entry per output (a metric, a list of them or None) or a dict keyed by output name;
- logs: ``loss``, then ``<output>_loss`` per output (its loss before the loss weight) when
  more than one output has a loss, then ``<output>_<metric>``; with one output the names
  carry no prefix.

Sample weights follow Keras: the loss of a batch of ``N`` is ``sum_i w_i l_i / N``
(:meth:`lamina.losses.Loss.weighted`); ``metrics`` ignore the weights and
``weighted_metrics`` use them (a weighted mean ``sum_i w_i m_i / sum_i w_i``); a name in
both lists logs the weighted one as ``weighted_<name>``.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

from torch import Tensor

from lamina import losses
from lamina import metrics as metrics_mod
from lamina.errors import message

__all__ = ["Targets", "Head", "Heads", "resolve_heads", "metric_input"]


class Targets(NamedTuple):
    """A batch's targets, one per output, and their sample weights (None: unweighted)."""

    values: tuple
    weights: tuple


class Head:
    """One output: its name, loss, loss weight, metrics and weighted metrics.

    ``activation``: the final softmax/sigmoid fused into the loss, applied before the
    metrics (None when the loss reads the output itself).

    Example:
        >>> head = Head("value", losses.get("mse"), 0.5, [metrics_mod.get("mae")], [])
        >>> head.loss_name, head.weight
        ('mean_squared_error', 0.5)
    """

    def __init__(self, name: str | None, loss, weight: float, metrics: list,
                 weighted_metrics: list, activation=None):
        self.name, self.loss, self.weight = name, loss, float(weight)
        self.metrics, self.weighted_metrics = list(metrics), list(weighted_metrics)
        self.activation = activation

    @property
    def loss_name(self) -> str:
        """The loss's name ('' without a loss)."""
        if self.loss is None:
            return ""
        return getattr(self.loss, "name", type(self.loss).__name__)


class Heads:
    """The model's outputs; called as the loss: ``heads(out, targets)`` is
    ``sum_k weight_k * loss_k(out_k, y_k, w_k)``.

    ``terms`` holds the last call's per-output losses (before the loss weights, detached),
    which the accumulators log as ``<output>_loss``.

    Example:
        >>> import torch
        >>> heads = Heads([Head("a", losses.get("mse"), 1.0, [], []),
        ...                Head("b", losses.get("mae"), 2.0, [], [])])
        >>> out = (torch.ones(2, 1), torch.zeros(2, 1))
        >>> heads(out, Targets((torch.zeros(2, 1), torch.ones(2, 1)), (None, None)))
        tensor(3.)
        >>> heads.log_names()
        ['a_loss', 'b_loss']
    """

    def __init__(self, heads: list[Head]):
        self.heads = list(heads)
        self.several = len(self.heads) > 1
        self.terms: list[Tensor] = []
        self._with_loss = [i for i, h in enumerate(self.heads) if h.loss is not None]

    @property
    def name(self) -> str:
        """The loss's name: the single output's, else ``out=loss*weight`` per output (what
        a resumed run must match)."""
        if not self.several:
            return self.heads[0].loss_name
        return ", ".join(f"{h.name}={h.loss_name}*{h.weight:g}" for h in self.heads)

    @property
    def n_terms(self) -> int:
        """How many outputs have a loss (the length of ``terms``)."""
        return len(self._with_loss)

    @property
    def loss_terms_logged(self) -> bool:
        """Whether each output's loss is logged (more than one output has a loss)."""
        return len(self._with_loss) > 1

    @property
    def metrics(self) -> list:
        """Every metric object, in the order of the logs."""
        return ([m for h in self.heads for m in h.metrics]
                + [m for h in self.heads for m in h.weighted_metrics])

    def log_names(self) -> list[str]:
        """The log keys after ``loss`` (and ``reg_loss``): per-output losses, metrics."""
        terms = ([f"{self.heads[i].name}_loss" for i in self._with_loss]
                 if self.loss_terms_logged else [])
        return terms + self.metric_names()

    def metric_names(self) -> list[str]:
        """The metrics' log keys, in the order of :attr:`metrics`."""
        names: list[str] = []
        seen: dict[str, int] = {}

        def unique(name: str) -> str:
            if name not in seen:
                seen[name] = 1
                return name
            seen[name] += 1
            return f"{name}_{seen[name] - 1}"

        for h in self.heads:
            names += [unique(self._prefixed(h, m.name)) for m in h.metrics]
        for h in self.heads:
            for m in h.weighted_metrics:
                name = self._prefixed(h, m.name)
                names.append(unique(name if name not in seen
                                    else self._prefixed(h, f"weighted_{m.name}")))
        return names

    def _prefixed(self, head: Head, name: str) -> str:
        return f"{head.name}_{name}" if self.several else name

    def __call__(self, out, targets: Targets) -> Tensor:
        outs = out if isinstance(out, (tuple, list)) else (out,)
        total, terms = None, []
        for i in self._with_loss:
            head = self.heads[i]
            term = head.loss(outs[i], targets.values[i], targets.weights[i])
            terms.append(term.detach())
            part = term if head.weight == 1.0 else term * head.weight
            total = part if total is None else total + part
        self.terms = terms
        return total


def metric_input(out: Tensor, activation, metrics) -> Tensor:
    """What the metrics read: ``activation(out)`` when a fused softmax/sigmoid must be put
    back, skipped when every metric reads only the argmax of ``(N, C)`` scores (which the
    activation, monotone along a row, keeps).

    Example:
        >>> import torch
        >>> metric_input(torch.zeros(1, 2), torch.sigmoid, [])
        tensor([[0.5000, 0.5000]])
    """
    if activation is None:
        return out
    if (out.ndim == 2 and out.shape[1] > 1 and metrics
            and all(m.reads_argmax_only for m in metrics)):
        return out
    return activation(out)


# -- compile: resolving the arguments against the output names ----------------------------
def _per_output(value, names: list[str], what: str, model: str, *, nested: bool) -> list:
    """``value`` spread over the outputs: a dict by name, a list by position, else the
    same value for each output (only where ``nested`` is False)."""
    n = len(names)
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(message(
                f"Argument `{what}` of compile names outputs that model '{model}' does not "
                f"have.", expected=f"keys among the output names {names}",
                received=f"{unknown}", fix="Key it by the names of the output layers."))
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and (nested or len(value) == n):
        if len(value) != n:
            raise ValueError(message(
                f"Argument `{what}` of compile, a list, must have one entry per output of "
                f"model '{model}' ({n}: {names}).", received=f"{len(value)} entries",
                fix="Pass one entry per output, or a dict keyed by output name."))
        return list(value)
    if nested and value is not None:
        raise ValueError(message(
            f"Argument `{what}` of compile must name the output(s) each metric is for, as "
            f"model '{model}' has {n} outputs.",
            expected=f"a list with one entry per output ({names}) or a dict keyed by name",
            received=f"{what}={value!r}"))
    return [value] * n


def _metric_list(spec) -> list:
    if spec is None:
        return []
    items = spec if isinstance(spec, (list, tuple)) else [spec]
    return [metrics_mod.get(m) for m in items]


def rename_weighted(metrics: list, weighted: list) -> list:
    """``weighted`` with ``weighted_<name>`` for a name that ``metrics`` already logs
    (the objects are copied before renaming).

    Example:
        >>> [m.name for m in rename_weighted([metrics_mod.get("mae")],
        ...                                  [metrics_mod.get("mae")])]
        ['weighted_mae']
    """
    taken = {m.name for m in metrics}
    out = []
    for m in weighted:
        if m.name in taken:
            m = copy.copy(m)
            m.name = f"weighted_{m.name}"
        taken.add(m.name)
        out.append(m)
    return out


def resolve_heads(names: list[str], loss, loss_weights, metrics, weighted_metrics,
                  model: str) -> Heads:
    """The :class:`Heads` of a model with the outputs ``names`` (several outputs).

    Example:
        >>> heads = resolve_heads(["cls", "val"], {"cls": "sparse_categorical_crossentropy",
        ...                       "val": "mse"}, {"val": 0.5}, {"cls": ["accuracy"]}, None, "m")
        >>> heads.name, heads.log_names()
        ('cls=sparse_categorical_crossentropy*1, val=mean_squared_error*0.5', \
['cls_loss', 'val_loss', 'cls_accuracy'])
    """
    if len(names) == 1:  # one output: every metric listed is its own (as Keras reads it)
        metrics = metrics if isinstance(metrics, dict) or metrics is None else [metrics]
        weighted_metrics = (weighted_metrics if isinstance(weighted_metrics, dict)
                            or weighted_metrics is None else [weighted_metrics])
    if len(set(names)) != len(names):
        raise ValueError(message(f"Model '{model}' has two outputs with the same name, so "
                                 f"losses and logs cannot tell them apart.",
                                 received=f"output names {names}",
                                 fix="Give the output layers distinct names."))
    loss_specs = _per_output(loss, names, "loss", model, nested=False)
    if all(spec is None for spec in loss_specs):
        raise ValueError(message(f"`compile` of model '{model}' needs a loss for at least "
                                 f"one output.", received=f"loss={loss!r}"))
    if isinstance(loss, dict) and set(loss) != set(names):
        raise ValueError(message(
            f"Argument `loss` of compile, a dict, must name every output of model "
            f"'{model}'.", expected=f"keys {names}", received=f"keys {sorted(loss)}",
            fix="Give None for an output to train without a loss on it."))
    weights = _per_output(loss_weights, names, "loss_weights", model, nested=False)
    heads = []
    for i, name in enumerate(names):
        weight = 1.0 if weights[i] is None else weights[i]
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight < 0:
            raise ValueError(message(f"Loss weight of output '{name}' must be a number >= 0.",
                                     received=f"{weight!r}"))
        plain = _metric_list(_per_output(metrics, names, "metrics", model, nested=True)[i]
                             if metrics else None)
        weighted = _metric_list(_per_output(weighted_metrics, names, "weighted_metrics",
                                            model, nested=True)[i] if weighted_metrics else None)
        spec = loss_specs[i]
        heads.append(Head(name, None if spec is None else losses.get(spec), weight, plain,
                          rename_weighted(plain, weighted)))
    return Heads(heads)
