"""scikit-learn estimators around lamina models: grid search, pipelines, cross-validation.

* :class:`NeuralNetClassifier` and :class:`NeuralNetRegressor` wrap a function that builds a
  lamina model: ``fit`` builds, compiles and trains it, ``predict``/``predict_proba``/
  ``score`` follow scikit-learn.
* :class:`RBMTransformer` and :class:`AutoencoderTransformer` put lamina's unsupervised
  models in a ``Pipeline`` (``fit``/``transform``); RBMTransformers one after another in a
  ``Pipeline`` pretrain a Deep Belief Net greedily, layer by layer.

Hyper-parameters are routed by prefix, as in scikeras: ``model__units=32`` goes to the
builder (``build_fn(units=32)``), ``optimizer__lr=0.01`` to the optimizer,
``compile__precision="bf16-mixed"`` to ``model.compile`` and ``fit__callbacks=[...]`` to
``model.fit``; ``epochs``, ``batch_size``, ``optimizer``, ``loss``... are the estimator's own.
``GridSearchCV(est, {"model__units": [8, 32], "optimizer__lr": [1e-3, 1e-2]})`` searches
over both.

Importing this module needs scikit-learn (``pip install scikit-learn``).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import numbers

import numpy as np
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from lamina import optimizers
from lamina.errors import message
from lamina.models.model import Model
from lamina.unsupervised.rbm import RBM

try:
    from sklearn.base import (
        BaseEstimator,
        ClassifierMixin,
        ClassNamePrefixFeaturesOutMixin,
        RegressorMixin,
        TransformerMixin,
    )
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted
except ImportError as err:  # pragma: no cover - scikit-learn is in the dev extra
    raise ImportError(message("lamina.sklearn needs scikit-learn, which is not installed.",
                              fix="`pip install scikit-learn`.")) from err
try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor", "RBMTransformer",
           "AutoencoderTransformer", "ROUTES"]

#: The prefixes of routed hyper-parameters (``model__units``, ``optimizer__lr``, ...).
ROUTES = ("model", "optimizer", "compile", "fit")
_FLOATS = [np.float32, np.float64]


def _seed(random_state) -> int | None:
    """An int seed from scikit-learn's ``random_state`` (None: no seeding)."""
    if random_state is None:
        return None
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(2**31 - 1))


@contextlib.contextmanager
def _seeded(random_state):
    """Seed torch's CPU stream (initialization, shuffling, dropout) for the block, then give
    the caller's stream back."""
    seed = _seed(random_state)
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _accepts(fn, name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


class _Routed(BaseEstimator):
    """Keeps the routed keyword arguments (``model__units=...``) beside the named ones, so
    ``get_params``/``set_params``/``clone`` see them all; builds and compiles the model."""

    def _store(self, arguments: dict) -> None:
        """``__init__``'s job: each named argument as an attribute (scikit-learn's rule), the
        routed ones (``**params``) in the private ``_routed``."""
        arguments = dict(arguments)
        arguments.pop("self")
        self._routed = dict(arguments.pop("params"))
        for name, value in arguments.items():
            setattr(self, name, value)

    def get_params(self, deep: bool = True) -> dict:
        """The named and the routed hyper-parameters (scikit-learn's protocol)."""
        params = super().get_params(deep=deep)
        params.update(self._routed)
        return params

    def set_params(self, **params):
        """Set named or routed (``model__units``, ``optimizer__lr``...) hyper-parameters."""
        routed = {k: v for k, v in params.items() if k.partition("__")[0] in ROUTES
                  and "__" in k}
        self._routed.update(routed)
        rest = {k: v for k, v in params.items() if k not in routed}
        if rest:
            super().set_params(**rest)
        return self

    def _route(self, prefix: str) -> dict:
        return {k[len(prefix) + 2:]: v for k, v in self._routed.items()
                if k.startswith(prefix + "__")}

    def _check_routed(self) -> None:
        bad = [k for k in self._routed if k.partition("__")[0] not in ROUTES or "__" not in k]
        if bad:
            raise ValueError(message(
                f"{type(self).__name__} got unknown parameters {bad}.",
                expected=f"its named parameters, or keys prefixed {', '.join(p + '__' for p in ROUTES)}",
                fix="Write builder arguments as `model__units=32`, optimizer ones as "
                    "`optimizer__lr=0.01`."))

    # -- building ---------------------------------------------------------------------------
    def _build(self, meta: dict) -> Model:
        build_fn = self.build_fn
        if isinstance(build_fn, nn.Module) or not callable(build_fn):
            raise TypeError(message(
                f"Argument `build_fn` of {type(self).__name__} must be a function (or class) "
                f"that returns a new lamina model.", received=f"a {type(build_fn).__name__}",
                fix="Pass the function itself: `NeuralNetClassifier(make_model)`, not "
                    "`make_model()`."))
        kwargs = self._route("model")
        for name, value in meta.items():
            if name not in kwargs and _accepts(build_fn, name):
                kwargs[name] = value
        model = build_fn(**kwargs)
        if not isinstance(model, Model):
            raise TypeError(message(
                f"`build_fn` of {type(self).__name__} must return a lamina Model.",
                received=f"a {type(model).__name__}",
                fix="Wrap a torch module: `return lm.Model.wrap(module)`."))
        return model

    def _optimizer(self, model: Model):
        kwargs, opt = self._route("optimizer"), self.optimizer
        if isinstance(opt, str):
            return optimizers.get({"class_name": opt, "config": kwargs} if kwargs else opt)
        if isinstance(opt, type):
            if issubclass(opt, optimizers.DeferredOptimizer):
                return opt(**kwargs)
            return opt([p for p in model.parameters() if p.requires_grad], **kwargs)
        if kwargs:
            raise ValueError(message(
                f"`optimizer__*` parameters of {type(self).__name__} need `optimizer` as a "
                f"name or a class.", received=f"an instance ({type(opt).__name__}) and "
                f"{sorted(kwargs)}", fix="Pass `optimizer='adam'` or `optimizer=lm.optimizers.Adam`."))
        return copy.deepcopy(opt)  # each fit gets its own, unbound

    def _make(self, meta: dict, sample: np.ndarray) -> Model:
        """Build the model (one forward on ``sample`` builds a lazy one) and compile it."""
        model = self._build(meta)
        model.eval()
        with torch.no_grad():
            out = model(torch.as_tensor(sample[:1], dtype=torch.float32))
        model.train()
        model.compile(optimizer=self._optimizer(model), loss=self._loss_for(out),
                      metrics=self.metrics, device=self.device, **self._route("compile"))
        self._meta = (dict(meta), np.zeros_like(sample[:1]))
        return model

    def _loss_for(self, out: torch.Tensor):
        """The loss to compile with, given the model's output for one sample."""
        return self.loss

    # -- pickling: weights as safetensors bytes, the model rebuilt from build_fn -------------
    def __getstate__(self):
        state = dict(super().__getstate__())  # (a copy: object's may be the live __dict__)
        model = state.pop("model_", None)
        if model is not None:
            state["_weights"] = save_tensors({k: v.detach().cpu().contiguous().clone()
                                              for k, v in model.state_dict().items()})
        return state

    def __setstate__(self, state):
        weights = state.pop("_weights", None)
        super().__setstate__(state)
        if weights is not None:
            self.model_ = self._make(*self._meta)
            self.model_.load_state_dict(load_tensors(weights))

    def _fit_model(self, x: np.ndarray, y, epochs: int) -> None:
        self.model_.fit(x, y, epochs=epochs, batch_size=min(self.batch_size, len(x)),
                        verbose=self.verbose, shuffle=self.shuffle,
                        validation_split=self.validation_split, **self._route("fit"))
        self.history_ = {k: list(v) for k, v in self.model_.history.history.items()}


class _NeuralNet(_Routed):
    """What the classifier and the regressor share: fit, partial_fit, predict."""

    def __init__(self, build_fn, *, optimizer="adam", loss=None, metrics=None,
                 epochs: int = 10, batch_size: int = 32, shuffle: bool = True,
                 validation_split: float = 0.0, verbose: int = 0, warm_start: bool = False,
                 random_state=None, device: str = "cpu", **params):
        self._store(locals())

    def fit(self, X, y):
        """Build a new model (unless ``warm_start`` and fitted) and train it ``epochs`` epochs.

        Returns:
            ``self``; ``history_`` holds the per-epoch loss and metrics.
        """
        fresh = not (self.warm_start and hasattr(self, "model_"))
        return self._fit(X, y, self.epochs, fresh)

    def _fit(self, X, y, epochs: int, fresh: bool, classes=None):
        self._check_routed()
        X, y = validate_data(self, X, y, reset=fresh, dtype=_FLOATS, allow_nd=True,
                             multi_output=self._multi_output, y_numeric=not self._classifier)
        target = self._target(y, fresh, classes)
        x = X.astype(np.float32, copy=False)
        with _seeded(self.random_state):
            if fresh:
                meta = {"input_shape": tuple(x.shape[1:]), **self._meta_args()}
                self.model_ = self._make(meta, x)
            self._fit_model(x, target, epochs)
        return self

    def _outputs(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=_FLOATS, allow_nd=True)
        return self.model_.predict(X.astype(np.float32, copy=False))


class NeuralNetClassifier(ClassifierMixin, _NeuralNet):
    """A lamina classifier as a scikit-learn estimator: ``P(y = k | x) = model(x)_k``.

    ``fit`` encodes the labels as ``0..K-1`` (``classes_``, sorted), builds the model with
    ``build_fn``, compiles it and trains it. The builder receives, when its signature names
    them, ``input_shape`` (one sample's shape) and ``num_classes`` (``K``), besides the
    ``model__*`` parameters; it returns a model ending in a softmax over ``K`` units (or one
    sigmoid unit for two classes). The loss defaults to
    ``sparse_categorical_crossentropy`` (``binary_crossentropy`` for one sigmoid unit).

    Args:
        build_fn: a function or class returning a new lamina model (``lm.zoo.MLP`` works).
        optimizer: a name, a lamina optimizer class (or instance), or a ``torch.optim``
            class; ``optimizer__lr=...`` sets its arguments. Defaults to ``"adam"``.
        loss: the loss (name or object); None picks it from the output (see above).
        metrics: metrics for ``history_``. Defaults to None.
        epochs: epochs per ``fit`` (``partial_fit`` runs one). Defaults to 10.
        batch_size: samples per step (at most the number of samples). Defaults to 32.
        shuffle: reshuffle every epoch. Defaults to True.
        validation_split: fraction of the data held out for ``val_*`` in ``history_``.
            Defaults to 0.
        verbose: ``model.fit``'s verbosity. Defaults to 0.
        warm_start: ``fit`` continues training a fitted model instead of building a new
            one. Defaults to False.
        random_state: None, an int or a ``numpy.random.RandomState``: seeds torch's CPU
            stream (weights, shuffling, dropout) during ``fit``, which makes it repeatable
            on a CPU. Defaults to None.
        device: where the model trains (``"cpu"``, ``"cuda"``, ``"auto"``). Defaults to
            ``"cpu"``.
        **params: routed hyper-parameters: ``model__<arg>`` (builder), ``optimizer__<arg>``,
            ``compile__<arg>`` (``model.compile``), ``fit__<arg>`` (``model.fit``).

    Attributes:
        model_: the trained lamina model. classes_: the labels, sorted.
        n_features_in_: features per sample. history_: ``{"loss": [...], ...}``.

    Example:
        >>> import numpy as np, lamina as lm
        >>> from lamina.sklearn import NeuralNetClassifier
        >>> def build(input_shape, num_classes, units=8):
        ...     return lm.Sequential([lm.layers.Dense(units, activation="relu"),
        ...                           lm.layers.Dense(num_classes, activation="softmax")],
        ...                          input_shape=input_shape)
        >>> x = np.r_[np.zeros((20, 2)), np.ones((20, 2))]; y = np.r_[["a"] * 20, ["b"] * 20]
        >>> clf = NeuralNetClassifier(build, model__units=4, optimizer__lr=0.05, epochs=20,
        ...                           random_state=0).fit(x, y)
        >>> clf.classes_.tolist(), clf.score(x, y), clf.predict_proba(x[:1]).shape
        (['a', 'b'], 1.0, (1, 2))
    """

    _classifier = True
    _multi_output = False
    _default_loss = "sparse_categorical_crossentropy"

    def partial_fit(self, X, y, classes=None):
        """One epoch on ``(X, y)``; the first call builds the model and needs ``classes``
        (every label), unless ``fit`` ran before.

        Returns:
            ``self``.
        """
        fresh = not hasattr(self, "model_")
        if fresh and classes is None:
            raise ValueError(message(
                f"The first `partial_fit` of {type(self).__name__} needs `classes`, every "
                f"label the data can hold.", fix="Call `partial_fit(X, y, classes=np.unique(y_all))`."))
        return self._fit(X, y, 1, fresh, classes)

    def _meta_args(self) -> dict:
        return {"num_classes": len(self.classes_)}

    def _target(self, y, fresh: bool, classes) -> np.ndarray:
        if fresh:
            check_classification_targets(y)
            self.classes_ = np.unique(y if classes is None else np.asarray(classes))
        unseen = ~np.isin(y, self.classes_)
        if unseen.any():
            raise ValueError(message(
                f"`y` of {type(self).__name__} holds labels outside `classes_`.",
                expected=f"labels in {self.classes_.tolist()}",
                received=f"{np.unique(np.asarray(y)[unseen]).tolist()}"))
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _loss_for(self, out: torch.Tensor):
        k, width = len(self.classes_), int(np.prod(out.shape[1:]))
        if width not in (k, 1 if k == 2 else k):
            raise ValueError(message(
                f"The model of {type(self).__name__} must output one score per class.",
                expected=f"{k} outputs{' (or 1 sigmoid unit)' if k == 2 else ''}",
                received=f"output of shape {tuple(out.shape[1:])}",
                fix="Use the `num_classes` argument the builder receives."))
        if self.loss is not None:
            return self.loss
        return "binary_crossentropy" if width == 1 and k == 2 else self._default_loss

    def _fit_model(self, x: np.ndarray, y, epochs: int) -> None:
        if getattr(self.model_.loss, "name", "") == "binary_crossentropy":
            y = y.astype(np.float32)[:, None]
        super()._fit_model(x, y, epochs)

    def predict_proba(self, X) -> np.ndarray:
        """``P(y = classes_[k] | x)``, shape ``(n_samples, n_classes)`` (float64)."""
        p = self._outputs(X).astype(np.float64)
        p = p.reshape(len(p), -1)
        if p.shape[1] == 1 and len(self.classes_) == 2:
            p = np.hstack([1.0 - p, p])
        return p

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample."""
        p = self.predict_proba(X)
        return self.classes_[np.argmax(p, axis=1)]


class NeuralNetRegressor(RegressorMixin, _NeuralNet):
    """A lamina regressor as a scikit-learn estimator: ``y = model(x)``, mean squared error.

    As :class:`NeuralNetClassifier` (same arguments and routing), for real targets of shape
    ``(n,)`` or ``(n, n_outputs)``; the builder receives ``input_shape`` and ``num_outputs``
    when its signature names them. ``score`` is R^2; the loss defaults to ``"mse"``.

    Example:
        >>> import numpy as np, lamina as lm
        >>> from lamina.sklearn import NeuralNetRegressor
        >>> def build(input_shape, num_outputs):
        ...     return lm.Sequential([lm.layers.Dense(num_outputs)], input_shape=input_shape)
        >>> x = np.linspace(-1, 1, 32)[:, None]; y = 3 * x[:, 0] + 1
        >>> reg = NeuralNetRegressor(build, optimizer="sgd", optimizer__lr=0.3, epochs=60,
        ...                          random_state=0).fit(x, y)
        >>> reg.predict(x).shape, bool(reg.score(x, y) > 0.99)
        ((32,), True)
    """

    _classifier = False
    _multi_output = True
    _default_loss = "mse"

    def partial_fit(self, X, y):
        """One epoch on ``(X, y)``, building the model on the first call. Returns ``self``."""
        return self._fit(X, y, 1, not hasattr(self, "model_"))

    def _meta_args(self) -> dict:
        return {"num_outputs": self.n_outputs_}

    def _loss_for(self, out: torch.Tensor):
        if int(np.prod(out.shape[1:])) != self.n_outputs_:
            raise ValueError(message(
                f"The model of {type(self).__name__} must output one value per target.",
                expected=f"{self.n_outputs_} outputs", received=f"output of shape "
                f"{tuple(out.shape[1:])}", fix="Use the `num_outputs` argument the builder "
                                              "receives."))
        return self._default_loss if self.loss is None else self.loss

    def _target(self, y, fresh: bool, classes) -> np.ndarray:
        y = np.asarray(y, dtype=np.float32)
        if fresh:
            self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
            self._target_ndim = y.ndim
        return y.reshape(len(y), -1)

    def predict(self, X) -> np.ndarray:
        """The model's outputs, shaped like the training targets (``(n,)`` for 1-D ``y``)."""
        out = self._outputs(X).astype(np.float64)
        return out.reshape(len(out), -1)[:, 0] if self._target_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _signature_of(cls):
    """A wrapper ``__init__`` that takes exactly ``cls``'s constructor arguments."""
    signature = inspect.signature(cls.__init__)

    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    # scikit-learn reads the parameters from the signature (get_params, clone, checks)
    __init__.__signature__ = signature
    return __init__


def _float32_out(tags):
    """Transformers compute in float32, and say so (scikit-learn's ``preserves_dtype``)."""
    tags.transformer_tags.preserves_dtype = ["float32"]
    return tags


class _UnsupervisedTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                               BaseEstimator):
    """``fit`` trains a new lamina estimator (``estimator_``) with this object's parameters;
    ``transform`` is its ``transform``."""

    _estimator_class: type

    def fit(self, X, y=None):
        """Train a new model on ``X`` (``y`` is ignored). Returns ``self``."""
        X = validate_data(self, X, dtype=_FLOATS)
        self.estimator_ = self._estimator_class(**self.get_params()).fit(X.astype(np.float32))
        return self

    def transform(self, X) -> np.ndarray:
        """The codes of ``X``, shape ``(n_samples, n_codes)``."""
        check_is_fitted(self, "estimator_")
        X = validate_data(self, X, reset=False, dtype=_FLOATS)
        return self.estimator_.transform(X.astype(np.float32))

    def __sklearn_tags__(self):
        return _float32_out(super().__sklearn_tags__())


class RBMTransformer(_UnsupervisedTransformer):
    """:class:`lamina.unsupervised.RBM` in a ``Pipeline``: ``transform(x) = P(h = 1 | v = x)``.

    Takes the RBM's constructor arguments (``n_hidden``, ``lr``, ``epochs``, ``visible``...;
    binary visible units need data in [0, 1], e.g. after ``MinMaxScaler``).
    ``partial_fit`` continues the RBM's training (one pass), as scikit-learn's
    ``BernoulliRBM``.

    Attributes:
        estimator_: the trained ``RBM``. n_features_in_: visible units.

    Example:
        >>> import numpy as np
        >>> from lamina.sklearn import RBMTransformer
        >>> x = np.array([[1, 1, 0, 0], [0, 0, 1, 1]] * 8, dtype=np.float32)
        >>> RBMTransformer(3, epochs=5, random_state=0, device="cpu").fit_transform(x).shape
        (16, 3)
    """

    _estimator_class = RBM
    __init__ = _signature_of(RBM)

    def partial_fit(self, X, y=None):
        """One pass over ``X`` (building the RBM on the first call). Returns ``self``."""
        first = not hasattr(self, "estimator_")
        X = validate_data(self, X, reset=first, dtype=_FLOATS)
        if first:
            self.estimator_ = RBM(**self.get_params())
        self.estimator_.partial_fit(X.astype(np.float32))
        return self

    @property
    def _n_features_out(self) -> int:
        return self.estimator_.n_hidden


class AutoencoderTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _Routed):
    """An autoencoder in a ``Pipeline``: ``transform`` gives its codes ``z = encode(x)``
    (flattened to one row per sample), ``inverse_transform`` the reconstructions ``decode(z)``.

    ``build_fn`` returns the autoencoder (an ``lm.unsupervised`` class works:
    ``AutoencoderTransformer(DenoisingAutoencoder, model__hidden=32)``); it receives
    ``input_shape`` when its signature names it. The other arguments are
    :class:`NeuralNetClassifier`'s (``loss`` defaults to the autoencoder's own).

    Example:
        >>> import numpy as np
        >>> from lamina.unsupervised import Autoencoder
        >>> from lamina.sklearn import AutoencoderTransformer
        >>> x = np.random.default_rng(0).random((64, 6))
        >>> ae = AutoencoderTransformer(Autoencoder, model__hidden=3, epochs=2, random_state=0)
        >>> ae.fit_transform(x).shape, ae.inverse_transform(ae.transform(x)).shape
        ((64, 3), (64, 6))
    """

    def __init__(self, build_fn, *, optimizer="adam", loss=None, metrics=None,
                 epochs: int = 10, batch_size: int = 32, shuffle: bool = True,
                 validation_split: float = 0.0, verbose: int = 0, random_state=None,
                 device: str = "cpu", **params):
        self._store(locals())

    def fit(self, X, y=None):
        """Build a new autoencoder and train it to reconstruct ``X``. Returns ``self``."""
        self._check_routed()
        X = validate_data(self, X, dtype=_FLOATS, allow_nd=True)
        x = X.astype(np.float32, copy=False)
        with _seeded(self.random_state):
            self.model_ = self._make({"input_shape": tuple(x.shape[1:])}, x)
            self._fit_model(x, x, self.epochs)
        self.code_shape_ = tuple(self.model_.encode(x[:1]).shape[1:])
        return self

    def transform(self, X) -> np.ndarray:
        """The codes, shape ``(n_samples, prod(code_shape_))``."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=_FLOATS, allow_nd=True)
        codes = self.model_.encode(X.astype(np.float32, copy=False))
        return codes.reshape(len(codes), -1)

    def inverse_transform(self, X) -> np.ndarray:
        """Reconstructions ``decode(z)`` for codes from :meth:`transform`."""
        check_is_fitted(self, "model_")
        z = np.asarray(X, dtype=np.float32).reshape(-1, *self.code_shape_)
        return self.model_.decode(z)

    @property
    def _n_features_out(self) -> int:
        return int(np.prod(self.code_shape_))

    def __sklearn_tags__(self):
        return _float32_out(super().__sklearn_tags__())
