"""The decks' first models: the perceptron, logistic regression and the MLP (deck 004)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from lamina._validation import check_nonnegative_int, check_positive_int
from lamina.errors import ConvergenceWarning, message
from lamina.layers import Dense, Dropout, Flatten
from lamina.models.model import Model
from lamina.models.sequential import Sequential
from lamina.training.tensors import to_tensor

__all__ = ["Perceptron", "LogisticRegression", "MLP"]


class Perceptron(Model):
    """Rosenblatt's perceptron: ``y(x) = 1 if w~.x~ >= 0 else -1`` with ``x~ = [1, x]``.

    Trained by Rosenblatt's rule on the perceptron criterion of deck 004,
    ``E(w~) = -sum_{n misclassified} (w~.x~_n) t_n``: samples are visited in order and only a
    misclassified one changes the weights, ``w~ <- w~ + lr * t_n x~_n``. Training stops at the
    first epoch without a mistake (the data are separated) or after ``epochs`` epochs.

    Args:
        lr: step size of the rule. Defaults to 1.0.
        name: model name.

    Attributes:
        weight: the augmented weights ``w~`` (bias first), shape ``(features + 1,)``.
        n_updates_: number of weight updates made by the last ``fit``.
        converged_: whether the last ``fit`` separated the data.
        classes_: the two labels seen in ``fit``; the first maps to -1, the second to +1.

    Example:
        >>> import numpy as np
        >>> x = np.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]]); y = np.array([0, 0, 0, 1])
        >>> p = Perceptron().fit(x, y)
        >>> p.converged_, p.predict(x).tolist()
        (True, [0, 0, 0, 1])
    """

    def __init__(self, lr: float = 1.0, *, name: str | None = None):
        super().__init__(name=name)
        if not lr > 0:
            raise ValueError(message("Argument `lr` of Perceptron must be > 0.",
                                     received=f"lr={lr!r}"))
        self.lr = float(lr)
        self.weight: nn.Parameter | None = None
        self.classes_: np.ndarray | None = None

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        self.weight = nn.Parameter(torch.zeros(int(np.prod(input_shape)) + 1),
                                   requires_grad=False)
        self.output_shape = ()

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return ()

    def decision_function(self, x: Tensor) -> Tensor:
        """``w~ . x~`` for each sample of ``x`` (a tensor of shape ``(N, features)``)."""
        x = x.reshape(x.shape[0], -1).to(self.weight.dtype)   # batch kept symbolic
        return x @ self.weight[1:] + self.weight[0]

    def forward(self, x: Tensor) -> Tensor:
        """+1 where ``w~ . x~ >= 0``, else -1 (the sign activation)."""
        return torch.where(self.decision_function(x) >= 0, 1.0, -1.0)

    def fit(self, x, y, epochs: int = 100, *, initial_weight=None, verbose: int = 0) -> Perceptron:
        """Run Rosenblatt's rule until the data are separated or ``epochs`` have passed.

        Args:
            x: samples ``(N, features)``.
            y: two-class labels (any two values, e.g. {-1, 1} or {0, 1}).
            epochs: maximum passes over the data. Defaults to 100.
            initial_weight: starting ``w~`` (bias first); zeros by default.
            verbose: print the number of mistakes per epoch when > 0.

        Returns:
            ``self``.
        """
        epochs = check_nonnegative_int("epochs", epochs, "Perceptron.fit")
        xt = to_tensor(x, "x", "Perceptron.fit").reshape(len(x), -1).double()
        y_np = np.asarray(y)
        classes = np.unique(y_np)
        if len(classes) != 2 or len(y_np) != len(xt):
            raise ValueError(message(
                "Perceptron.fit needs one label per sample, with exactly two classes.",
                received=f"{len(xt)} samples, {len(y_np)} labels, classes {classes.tolist()}"))
        self.classes_ = classes
        t = torch.from_numpy(np.where(y_np == classes[1], 1.0, -1.0))
        self.build(tuple(xt.shape[1:]))
        w = torch.zeros(xt.shape[1] + 1, dtype=torch.float64)
        if initial_weight is not None:
            w.copy_(torch.as_tensor(initial_weight, dtype=torch.float64))
        xa = torch.cat([torch.ones(len(xt), 1, dtype=torch.float64), xt], 1)
        self.n_updates_, self.converged_ = 0, False
        for epoch in range(epochs):
            mistakes = 0
            for n in range(len(xa)):
                predicted = 1.0 if float(xa[n] @ w) >= 0 else -1.0
                if predicted != float(t[n]):  # only mistakes move the weights
                    w += self.lr * t[n] * xa[n]
                    mistakes += 1
            self.n_updates_ += mistakes
            if verbose:
                print(f"epoch {epoch + 1}: {mistakes} mistakes")
            if mistakes == 0:
                self.converged_ = True
                break
        if not self.converged_:
            import warnings

            warnings.warn(f"The perceptron did not separate the data in {epochs} epochs; the "
                          f"classes may not be linearly separable.", ConvergenceWarning,
                          stacklevel=2)
        with torch.no_grad():
            self.weight.copy_(w.float())
        return self

    def predict(self, x, batch_size: int = 256) -> np.ndarray:
        """Class labels (those seen in ``fit``) for ``x``."""
        if self.classes_ is None:
            raise ValueError("This Perceptron is not fitted yet. Call `fit(x, y)` first.")
        with torch.no_grad():
            signs = self(to_tensor(x, "x", "Perceptron.predict")).cpu().numpy()
        return np.where(signs > 0, self.classes_[1], self.classes_[0])


def LogisticRegression(num_classes: int = 2, input_shape=None, *,
                       name: str = "logistic_regression") -> Sequential:
    """Logistic regression: ``y = sigmoid(w.x + w0)`` (two classes) or a softmax over classes.

    Train it with ``binary_crossentropy`` (two classes, targets 0/1) or
    ``sparse_categorical_crossentropy``: that is deck 004's cross-entropy cost
    ``E(w) = -sum_n [t_n ln y_n + (1 - t_n) ln(1 - y_n)]``.

    Args:
        num_classes: 2 for one sigmoid output, more for a softmax layer. Defaults to 2.
        input_shape: per-sample input shape; images are flattened.
        name: model name.

    Example:
        >>> model = LogisticRegression(2, input_shape=(3,))
        >>> model.count_params()
        4
    """
    num_classes = check_positive_int("num_classes", num_classes, "LogisticRegression")
    layers = [Flatten(name="flatten")] if input_shape is not None and len(input_shape) > 1 else []
    if num_classes == 2:
        layers.append(Dense(1, activation="sigmoid", name="logit"))
    else:
        layers.append(Dense(num_classes, activation="softmax", name="logits"))
    return Sequential(layers, input_shape=input_shape, name=name)


def MLP(hidden=(256, 128), activation: str = "relu", outputs: int = 10, *,
        output_activation: str = "softmax", dropout: float = 0.0, input_shape=None,
        name: str = "mlp") -> Sequential:
    """Multi-layer perceptron: ``h = f(W1 x + b1); ...; y = g(Wk h + bk)`` (deck 004).

    Args:
        hidden: sizes of the hidden layers. Defaults to (256, 128).
        activation: hidden activation. Defaults to ``"relu"``.
        outputs: output units (classes, or 1 for a scalar regression). Defaults to 10.
        output_activation: ``"softmax"`` for classes, ``"linear"`` for regression, ...
        dropout: dropout rate after each hidden layer. Defaults to 0.
        input_shape: per-sample input shape; images are flattened.
        name: model name.

    Example:
        >>> MLP((256, 128), input_shape=(1, 28, 28)).count_params()
        235146
    """
    hidden = [check_positive_int("hidden", h, "MLP") for h in hidden]
    layers: list[nn.Module] = []
    if input_shape is not None and len(input_shape) > 1:
        layers.append(Flatten(name="flatten"))
    for i, units in enumerate(hidden):
        layers.append(Dense(units, activation=activation, name=f"hidden{i + 1}"))
        if dropout:
            layers.append(Dropout(dropout, name=f"dropout{i + 1}"))
    layers.append(Dense(check_positive_int("outputs", outputs, "MLP"),
                        activation=output_activation, name="output"))
    return Sequential(layers, input_shape=input_shape, name=name)
