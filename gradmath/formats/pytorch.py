"""PyTorch models: an ``nn.Sequential`` (:func:`from_torch`) or a ``state_dict`` (:func:`from_state_dict`).

What the model does not say (the loss it was trained with, the activations of a bare
``state_dict``) is taken from the caller; whatever gradmath had to read into the model is
reported as a :class:`ConversionNote` warning (from :func:`from_torch`) or returned as notes
(from :func:`from_state_dict`).

Output and cost
    ``loss=`` takes the PyTorch loss module the model was trained with:
    ``CrossEntropyLoss`` on logits is softmax with log-loss, ``BCEWithLogitsLoss`` on logits
    sigmoid with cross-entropy, ``NLLLoss`` after ``LogSoftmax`` softmax with log-loss,
    ``BCELoss`` after ``Sigmoid`` cross-entropy, ``MSELoss`` the quadratic cost (PyTorch's
    mean differs from ½‖aᴸ − y‖² by a constant factor, which scales every δ alike).
    ``cost=`` does the same by name; log-loss or cross-entropy on logits implies the softmax
    or sigmoid. Without either, logits are read as an identity output with the quadratic cost,
    and a note says so.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping

import numpy as np
import sympy as sp

from gradmath.activations import LINEAR_ACTIVATION, activation_names, get_activation, register_activation
from gradmath.expressions import X
from gradmath.errors import FormatError, MissingDependencyError
from gradmath.network import SOFTMAX, Network

__all__ = ["from_torch", "from_state_dict", "output_and_cost", "softplus_beta", "leaky_relu", "ConversionNote"]

#: torch.nn.Softplus switches to x where βx exceeds its threshold; below this threshold the
#: switch moves σ and σ′ by more than e^-20 ≈ 2.1e-9 from the exact softplus, and gradmath refuses it.
MIN_SOFTPLUS_THRESHOLD = 20.0


class ConversionNote(UserWarning):
    """Something gradmath had to read into a model (an implied softmax, a layer read as the identity)."""


def output_and_cost(output: str | None, cost: str | None, *, logits: bool = True
                    ) -> tuple[str, str, tuple[str, ...]]:
    """The output activation and cost from what the caller gave, and notes on what was implied."""
    if cost is not None and output is None:
        implied = {"log-loss": SOFTMAX, "cross-entropy": "sigmoid"}.get(cost)
        if implied is not None:
            what = "nn.CrossEntropyLoss" if cost == "log-loss" else "nn.BCEWithLogitsLoss"
            return implied, cost, (f"cost={cost!r} on logits implies a {implied} output layer (as {what} "
                                   "computes it)",)
        return LINEAR_ACTIVATION, cost, ()
    if output is None:
        note = ("the last layer gives logits and no loss or cost was given: read as an identity output with the "
                "quadratic cost; if it was trained with nn.CrossEntropyLoss, give loss=/cost='log-loss' "
                "(--cost log-loss)")
        return LINEAR_ACTIVATION, "quadratic", (note,) if logits else ()
    if cost is None:
        return output, {SOFTMAX: "log-loss", "sigmoid": "cross-entropy"}.get(output, "quadratic"), ()
    return output, cost, ()


def _import_torch():
    try:
        import torch
        from torch import nn
    except ImportError as err:
        raise MissingDependencyError("from_torch needs PyTorch: pip install torch (or pip install 'gradmath[torch]')") \
            from err
    return torch, nn


def from_torch(module, *, cost: str | None = None, loss=None) -> Network:
    """A :class:`Network` from a PyTorch ``nn.Sequential`` of ``Linear`` layers and elementwise activations.

    The pattern is Linear, σ, Linear, σ, …, Linear, then optionally one output module:
    ``Sigmoid``, ``Softmax(dim=-1)``, ``LogSoftmax(dim=-1)`` (read as softmax with log-loss,
    the NLL of its output), or an elementwise activation. Hidden activations: ``Sigmoid``,
    ``Tanh``, ``ReLU``, ``GELU`` (exact), ``SiLU``, ``Softplus`` (threshold ≥ 20, gradmath uses the
    exact softplus; β ≠ 1 registers :func:`softplus_beta`), ``Softsign``; two Linear layers in a row have the identity
    between them. ``Dropout`` (its eval-mode identity), ``Flatten`` on flat input and
    ``Identity`` are passed over with a note. ``LeakyReLU(a)`` with 0 < a < 1 registers
    :func:`leaky_relu`. Other modules are refused.

    ``loss`` (a PyTorch loss module) or ``cost`` say how the output was trained; see the
    module docstring. Notes come as :class:`ConversionNote` warnings.

    Raises
    ------
    MissingDependencyError
        PyTorch is not installed (``pip install torch``).
    FormatError
        A module outside that pattern (the message names its position), or a loss that does
        not fit the output.
    """
    torch, nn = _import_torch()
    if not isinstance(module, nn.Sequential):
        raise FormatError(f"from_torch needs an nn.Sequential, got {type(module).__name__}")
    notes: list[str] = []
    children = []
    for i, child in enumerate(module):
        if isinstance(child, (nn.Dropout, nn.Identity)):
            notes.append(f"module {i} ({type(child).__name__}) read as the identity"
                         + (" (its eval-mode behaviour)" if isinstance(child, nn.Dropout) else ""))
        elif isinstance(child, nn.Flatten):
            if (child.start_dim, child.end_dim) != (1, -1):
                raise FormatError(f"module {i}: Flatten(start_dim={child.start_dim}, end_dim={child.end_dim}) "
                                  "is not the identity on flat input (N × n)")
            notes.append(f"module {i} (Flatten) read as the identity: gradmath's inputs are flat (N × n₁)")
        else:
            children.append((i, child))
    weights, biases, hidden, output = [], [], set(), None
    for k, (i, child) in enumerate(children):
        last = k == len(children) - 1
        if isinstance(child, nn.Linear):
            if any(nn.parameter.is_lazy(t) for t in (child.weight, child.bias) if t is not None):
                raise FormatError(f"module {i} ({type(child).__name__}): its parameters are not initialised yet (a "
                                  "lazy module); run one forward pass first")
            odd = [t.dtype for t in (child.weight, child.bias) if t is not None and not t.is_floating_point()]
            if odd:   # .to(float64) would keep the real part of a complex weight, with only torch's UserWarning
                raise FormatError(f"module {i} (Linear): parameters of dtype {str(odd[0]).replace('torch.', '')}; "
                                  "gradmath's networks and bounds are real (float16 to float64)")
            w = child.weight.detach().to(torch.float64).cpu().numpy()
            weights.append(w)
            biases.append(child.bias.detach().to(torch.float64).cpu().numpy() if child.bias is not None
                          else np.zeros(w.shape[0]))
            continue
        if not weights:
            raise FormatError(f"module {i} ({type(child).__name__}): the Sequential must start with nn.Linear")
        if isinstance(child, (nn.Softmax, nn.LogSoftmax)) and last:
            if child.dim not in (-1, 1):
                raise FormatError(f"module {i}: {type(child).__name__}(dim={child.dim}) must act on dim=-1")
            output = "log-softmax" if isinstance(child, nn.LogSoftmax) else SOFTMAX
            continue
        name = _elementwise(nn, i, child, notes)
        if last:
            output = name
        elif isinstance(children[k + 1][1], nn.Linear):
            hidden.add(name)
        else:
            raise FormatError(f"module {children[k + 1][0]} ({type(children[k + 1][1]).__name__}): "
                              "two activations in a row")
    if not weights:
        raise FormatError("the Sequential holds no nn.Linear layer")
    positions = [k for k, (_, c) in enumerate(children) if isinstance(c, nn.Linear)]
    gaps = {b - a for a, b in zip(positions, positions[1:])}
    if gaps == {1}:  # Linear after Linear: linear hidden layers
        hidden_name = LINEAR_ACTIVATION
    elif gaps <= {2} and len(hidden) <= 1:
        hidden_name = hidden.pop() if hidden else "sigmoid"
    else:
        raise FormatError(f"hidden layers must share one activation between every two Linear layers, "
                          f"found {', '.join(sorted(hidden)) or 'none'}")
    if loss is not None:
        cost = _cost_of_loss(nn, loss, output, cost, notes)
    if output == "log-softmax":
        if cost not in (None, "log-loss"):
            raise FormatError(f"nn.LogSoftmax outputs log-probabilities, not a softmax: cost={cost!r} of them is "
                              "not softmax with that cost; use cost='log-loss' (the NLL) or end with nn.Softmax")
        output, cost = SOFTMAX, "log-loss"
        notes.append("nn.LogSoftmax read as a softmax output with log-loss (the NLL of its output)")
    output, cost, implied = output_and_cost(output, cost)
    for note in notes + list(implied):
        warnings.warn(note, ConversionNote, stacklevel=2)
    return Network(tuple(weights), tuple(biases), hidden_name, output, cost)


_ELEMENTWISE = {"Sigmoid": "sigmoid", "Tanh": "tanh", "ReLU": "relu", "SiLU": "silu", "Softsign": "softsign",
                "GELU": "gelu", "Softplus": "softplus"}


def _elementwise(nn, i: int, child, notes: list[str]) -> str:
    name = _ELEMENTWISE.get(type(child).__name__)
    if isinstance(child, nn.LeakyReLU):
        slope = float(child.negative_slope)
        if not 0 < slope < 1:
            raise FormatError(f"module {i}: LeakyReLU(negative_slope={child.negative_slope}) is supported for "
                              "0 < negative_slope < 1 (0 is nn.ReLU, 1 the identity)")
        name = leaky_relu(slope)
        notes.append(f"module {i}: LeakyReLU(negative_slope={slope!r}) registered as the activation {name!r}, "
                     f"{get_activation(name).expression}; its σ′(0) is (1 + a)/2 where PyTorch's autograd takes a")
        return name
    if name is None or type(child).__module__.split(".")[0] != "torch":
        raise FormatError(f"module {i} ({type(child).__name__}) is not nn.Linear or a supported elementwise "
                          "activation (Sigmoid, Tanh, ReLU, GELU, SiLU, Softplus, Softsign; Softmax last)")
    if isinstance(child, nn.GELU) and child.approximate != "none":
        raise FormatError(f"module {i}: GELU(approximate={child.approximate!r}) is not the exact GELU")
    if isinstance(child, nn.Softplus):
        beta, threshold = float(child.beta), float(child.threshold)
        if not (math.isfinite(beta) and beta > 0):
            raise FormatError(f"module {i}: Softplus(beta={child.beta}) needs a positive, finite beta")
        if threshold < MIN_SOFTPLUS_THRESHOLD:
            raise FormatError(f"module {i}: Softplus(threshold={child.threshold}) switches to x where βx > "
                              f"{child.threshold}, far from softplus; use threshold >= {MIN_SOFTPLUS_THRESHOLD:g}")
        notes.append(f"module {i}: Softplus(threshold={threshold:g}) is x where βx > {threshold:g}; gradmath "
                     f"uses the exact ln(1+e^(βx))/β, which differs there by less than e^-{threshold:g} in σ′ "
                     f"and e^-{threshold:g}/β in σ")
        if beta != 1:
            name = softplus_beta(beta)
            notes.append(f"module {i}: Softplus(beta={beta!r}) registered as the activation {name!r}, "
                         f"ln(1+e^(βx))/β in the overflow-free form {get_activation(name).expression}")
    return name


def softplus_beta(beta: float) -> str:
    """Register ln(1 + e^(βx))/β = max(x, 0) + ln(1 + e^(−β|x|))/β (PyTorch's ``Softplus(beta)``) and return its name.

    β is read as the rational of its shortest decimal form; the name records it, so that
    the same β always gives the same activation (and a saved network states its expression).

    >>> name = softplus_beta(2.0)
    >>> name, str(get_activation(name).expression)
    ('softplus_beta_2', 'log(1 + exp(-2*Abs(x)))/2 + Max(0, x)')
    """
    b = sp.Rational(repr(float(beta)))
    expr = sp.Max(X, 0) + sp.log(1 + sp.exp(-b * sp.Abs(X))) / b
    return _register_family("softplus_beta", beta, expr, f"PyTorch Softplus(beta={beta!r}): ln(1+e^(βx))/β")


def leaky_relu(slope: float) -> str:
    """Register max(x, 0) + a·min(x, 0) (PyTorch's ``LeakyReLU(negative_slope=a)``) and return its name.

    Its σ′(0) is (1 + a)/2, the mean of the one-sided slopes, on every path (SymPy, NumPy,
    mpmath); PyTorch's autograd takes a there, so δ differs from PyTorch's only where some
    zˡ is exactly 0.

    >>> name = leaky_relu(0.01)
    >>> name, str(get_activation(name).expression), float(get_activation(name).prime(0.0))
    ('leaky_relu_0_01', 'Max(0, x) + Min(0, x)/100', 0.505)
    """
    a = sp.Rational(repr(float(slope)))
    return _register_family("leaky_relu", slope, sp.Max(X, 0) + a * sp.Min(X, 0),
                            f"PyTorch LeakyReLU(negative_slope={slope!r}): max(x, 0) + a·min(x, 0)")


_FAMILY = re.compile(r"(softplus_beta|leaky_relu)_([0-9]+(?:_[0-9]+)?(?:e[mp]?[0-9]+)?)")


def register_named_family(name: str | None) -> None:
    """Register ``softplus_beta_<β>`` or ``leaky_relu_<a>`` from its name alone (for ``--activation``).

    >>> register_named_family("leaky_relu_0_25"); float(get_activation("leaky_relu_0_25").prime(-1.0))
    0.25
    """
    match = _FAMILY.fullmatch(str(name or "").strip().lower())
    if match is None or match.group(0) in activation_names():
        return
    value = float(match.group(2).replace("_", ".").replace("m", "-").replace("p", "+"))
    if match.group(1) == "softplus_beta":
        if value > 0:
            softplus_beta(value)
    elif 0 < value < 1:
        leaky_relu(value)


def _register_family(prefix: str, value: float, expr: sp.Expr, description: str) -> str:
    digits = repr(float(value)).removesuffix(".0").replace(".", "_").replace("-", "m").replace("+", "p")
    name = f"{prefix}_{digits}"  # 0.5 → _0_5, 1e-05 → _1em05: the same value, the same name
    if name in activation_names():
        if get_activation(name).expression != expr:
            raise FormatError(f"activation {name!r} is already registered as {get_activation(name).expression}, "
                              f"not {expr}")
        return name
    register_activation(name, expr, description=description)
    return name


def _cost_of_loss(nn, loss, output, cost, notes: list[str]) -> str:
    kind = type(loss).__name__
    table = {  # loss: (output the model must end with, gradmath cost); None: logits
        "CrossEntropyLoss": (None, "log-loss"), "BCEWithLogitsLoss": (None, "cross-entropy"),
        "NLLLoss": ("log-softmax", "log-loss"), "BCELoss": ("sigmoid", "cross-entropy"),
    }
    if not isinstance(loss, nn.Module) or (kind not in table and kind != "MSELoss"):
        raise FormatError(f"loss={kind}: gradmath reads nn.CrossEntropyLoss, nn.BCEWithLogitsLoss, nn.NLLLoss, "
                          "nn.BCELoss or nn.MSELoss")
    for attribute in ("weight", "pos_weight"):
        if getattr(loss, attribute, None) is not None:
            raise FormatError(f"loss={kind}({attribute}=...): weighted losses are not a gradmath cost")
    if getattr(loss, "label_smoothing", 0.0) != 0.0:
        raise FormatError(f"loss={kind}(label_smoothing={loss.label_smoothing}) is not a gradmath cost")
    if kind == "MSELoss":
        if output == "log-softmax":
            raise FormatError("nn.MSELoss on nn.LogSoftmax's log-probabilities is not a softmax with the quadratic "
                              "cost; end with nn.Softmax")
        implied = "quadratic"
        notes.append("nn.MSELoss read as the quadratic cost ½‖aᴸ − y‖² (a constant factor apart, which scales "
                     "every δ alike)")
    else:
        needs, implied = table[kind]
        if output != needs:
            where = "logits (no output module)" if needs is None else f"nn.{'LogSoftmax' if needs == 'log-softmax' else 'Sigmoid'}"
            raise FormatError(f"loss={kind} expects {where} after the last Linear, but the Sequential ends with "
                              f"{_describe(output)}; remove the output module or pass the matching loss")
        if needs is None:
            notes.append(f"{kind} on logits read as a {'softmax' if implied == 'log-loss' else 'sigmoid'} output "
                         f"with {implied}")
    if cost is not None and cost != implied:
        raise FormatError(f"cost={cost!r} disagrees with loss={kind} ({implied}); give one of them")
    return implied


def _describe(output) -> str:
    return {None: "logits", SOFTMAX: "nn.Softmax", "log-softmax": "nn.LogSoftmax"}.get(output, f"{output}")


def from_state_dict(tensors: Mapping, *, activation: str | None, output: str | None = None,
                    cost: str | None = None) -> tuple[Network, tuple[str, ...]]:
    """A network from the ``state_dict`` of a stack of Linear layers, and notes on what was implied.

    ``tensors`` maps names such as ``"0.weight"``, ``"0.bias"``, ``"2.weight"`` (an ``nn.Sequential``)
    or ``"fc1.weight"`` to arrays or tensors; layers are taken in the natural order of their
    prefixes and must chain. A state_dict holds no activations: ``activation`` (needed when
    there are hidden layers) and ``output``/``cost`` (at least one) are the caller's.

    >>> import numpy as np
    >>> sd = {"0.weight": np.ones((3, 2)), "0.bias": np.zeros(3), "2.weight": np.ones((1, 3))}
    >>> from_state_dict(sd, activation="tanh", cost="cross-entropy")
    (Network(sizes=(2, 3, 1), hidden_activation='tanh', output_activation='sigmoid', cost='cross-entropy'), ("cost='cross-entropy' on logits implies a sigmoid output layer (as nn.BCEWithLogitsLoss computes it)",))
    """
    layers: dict[str, dict[str, np.ndarray]] = {}
    for name, value in tensors.items():
        prefix, _, part = str(name).rpartition(".")
        if part not in ("weight", "bias"):
            raise FormatError(f"tensor {name!r} is not a Linear layer's weight or bias (gradmath reads stacks of "
                              "nn.Linear only)")
        arr = value.detach().cpu().double().numpy() if hasattr(value, "detach") else np.asarray(value)
        layers.setdefault(prefix, {})[part] = arr
    if not layers:
        raise FormatError("the state_dict holds no tensors")
    weights, biases = [], []
    for prefix in sorted(layers, key=_natural):
        layer = layers[prefix]
        label = prefix or "(top level)"
        if "weight" not in layer:
            raise FormatError(f"layer {label}: a bias without a weight")
        w = layer["weight"]
        if w.ndim != 2:
            raise FormatError(f"layer {label}: weight of shape {w.shape} is not a Linear layer's matrix")
        b = layer.get("bias", np.zeros(w.shape[0]))
        if weights and w.shape[1] != weights[-1].shape[0]:
            raise FormatError(f"layer {label}: weight shape {w.shape} does not follow a layer of width "
                              f"{weights[-1].shape[0]} (layers are taken in the order {', '.join(sorted(layers, key=_natural))})")
        weights.append(w)
        biases.append(b)
    if len(weights) > 1 and activation is None:
        raise FormatError("a state_dict holds no activations: give the hidden activation (--activation, e.g. "
                          "sigmoid, tanh, relu)")
    if output is None and cost is None:
        raise FormatError("a state_dict does not say how its output was trained: give --output and/or --cost "
                          "(e.g. --cost log-loss for logits trained with nn.CrossEntropyLoss)")
    output, cost, notes = output_and_cost(output, cost)
    hidden = activation or LINEAR_ACTIVATION
    return Network(tuple(weights), tuple(biases), hidden, output, cost), notes


def _natural(prefix: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", prefix)]  # fc2 before fc10
