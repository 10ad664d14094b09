"""scikit-learn's MLPClassifier and MLPRegressor: from a fitted model, or from a skops file.

skops files are read with :func:`skops.io.load`, which rebuilds objects from a JSON
schema instead of unpickling them; gradmath trusts only the types a fitted MLP holds
(:data:`TRUSTED_TYPES` beside the ones skops trusts itself), refuses a file holding any
other, and checks the archive's unpacked size before skops opens it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from gradmath.activations import LINEAR_ACTIVATION
from gradmath.errors import FormatError, MissingDependencyError
from gradmath.formats.reading import MAX_BINARY_BYTES
from gradmath.network import SOFTMAX, Network

__all__ = ["from_sklearn", "read_skops", "TRUSTED_TYPES"]

#: Types of a fitted MLP that skops does not trust by default (the optimiser's state).
TRUSTED_TYPES = ("sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
                 "sklearn.neural_network._stochastic_optimizers.SGDOptimizer")
_MODELS = ("MLPClassifier", "MLPRegressor")
_ACTIVATIONS = {"logistic": "sigmoid", "tanh": "tanh", "relu": "relu", "identity": LINEAR_ACTIVATION}


def from_sklearn(model) -> Network:
    """A :class:`Network` from a fitted scikit-learn ``MLPClassifier`` or ``MLPRegressor``.

    Output and cost follow the model's loss: softmax with log-loss (multi-class),
    sigmoid with cross-entropy (binary or multi-label), identity with the
    quadratic cost ½‖aᴸ − y‖² (regressor; scikit-learn's squared loss also divides
    by the number of outputs, which scales every δ alike). Linear (``"identity"``)
    layers use the built-in activation σ(x) = x.

    >>> import numpy as np
    >>> from sklearn.neural_network import MLPClassifier
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((40, 3)); labels = (x.sum(axis=1) > 1.5).astype(int) + (x[:, 0] > 0.5)
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")   # ConvergenceWarning after 50 iterations
    ...     clf = MLPClassifier(hidden_layer_sizes=(5,), activation="logistic", max_iter=50, random_state=0).fit(x, labels)
    >>> from_sklearn(clf)
    Network(sizes=(3, 5, 3), hidden_activation='sigmoid', output_activation='softmax', cost='log-loss')
    """
    coefs = getattr(model, "coefs_", None)
    intercepts = getattr(model, "intercepts_", None)
    if coefs is None or intercepts is None:
        raise FormatError(f"{type(model).__name__} is not a fitted scikit-learn MLP (no coefs_; call fit first)")
    hidden = _ACTIVATIONS.get(getattr(model, "activation", None))
    if hidden is None:
        raise FormatError(f"scikit-learn activation={getattr(model, 'activation', None)!r} has no gradmath counterpart")
    out = getattr(model, "out_activation_", None)
    if out == "softmax":
        output, cost = SOFTMAX, "log-loss"
    elif out == "logistic":
        output, cost = "sigmoid", "cross-entropy"
    elif out == "identity":
        output, cost = LINEAR_ACTIVATION, "quadratic"
    else:
        raise FormatError(f"scikit-learn out_activation_={out!r} has no gradmath counterpart")
    if not isinstance(coefs, (list, tuple)) or not isinstance(intercepts, (list, tuple)):
        raise FormatError("coefs_ and intercepts_ must be lists of arrays, as a fitted MLP holds them")
    weights = tuple(_floats(c, f"coefs_[{i}]").T for i, c in enumerate(coefs))
    biases = tuple(_floats(b, f"intercepts_[{i}]") for i, b in enumerate(intercepts))
    return Network(weights, biases, hidden, output, cost)


def _floats(value, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "fi":
        raise FormatError(f"{name} has dtype {arr.dtype}, expected floating point")
    return arr.astype(np.float64)


def read_skops(path: Path) -> Network:
    """The network of the fitted MLPClassifier/MLPRegressor in the skops file at ``path``.

    Raises
    ------
    MissingDependencyError
        skops is not installed (``pip install skops``).
    FormatError
        A damaged archive, one that unpacks past :data:`~gradmath.formats.reading.MAX_BINARY_BYTES`,
        types gradmath does not trust, or a model that is not a fitted MLP.
    """
    try:
        import skops.io as sio
    except ImportError as err:
        raise MissingDependencyError("skops files need the skops package: pip install skops "
                                     "(or pip install 'gradmath[skops]')") from err
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise FormatError(f"{path}: truncated or corrupt skops archive ({err})") from None
    if unpacked > MAX_BINARY_BYTES:
        raise FormatError(f"{path}: skops archive unpacks to {unpacked} bytes, over the "
                          f"{MAX_BINARY_BYTES // 2**20} MiB limit")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as err:  # skops raises several kinds on a damaged schema
        raise FormatError(f"{path}: unreadable skops file ({type(err).__name__}: {_first_line(err)})") from None
    refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if refused:
        raise FormatError(f"{path}: skops file holds types gradmath does not load: {', '.join(refused[:3])}"
                          f"{' ...' if len(refused) > 3 else ''} (save the fitted MLPClassifier or MLPRegressor "
                          "itself)")
    try:
        model = sio.load(path, trusted=list(untrusted))
    except Exception as err:
        raise FormatError(f"{path}: unreadable skops file ({type(err).__name__}: {_first_line(err)})") from None
    if type(model).__name__ not in _MODELS or not type(model).__module__.startswith("sklearn.neural_network"):
        raise FormatError(f"{path}: skops file holds a {type(model).__name__}, not an MLPClassifier or MLPRegressor")
    return from_sklearn(model)


def _first_line(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return (lines[0] if lines else "")[:200]
