"""Which modules the monitor watches, how it numbers them, and how to undo a loss's batch reduction.

Layers are numbered as the verifier numbers them (``gradmath.bounds``): layer 1 is the
input, and the weighted layers (every ``nn.Linear`` and ``nn.Conv2d``, in the order
``model.modules()`` lists them, which is the forward order of an ``nn.Sequential``) are
l = 2, 3, …, L.

The gradient at a layer's output (its pre-activation zˡ) is ∂C/∂zˡ for the *batch* loss C.
For ``reduction="mean"`` that is δˡ/N per example (N the batch size), for ``"sum"`` δˡ itself,
where δˡ = ∂Cₙ/∂zˡ of the example's own loss Cₙ (the loss of a batch of one). A weighted mean
(a loss with ``weight=``) or ``reduction="none"`` cannot be undone without the targets.

>>> from torch import nn
>>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
>>> [(w.l, w.name, w.kind, w.activation) for w in watched_layers(model)]
[(2, '0', 'Linear', 'ReLU'), (3, '2', 'Linear', None)]
>>> batch_scale(nn.CrossEntropyLoss(), None), batch_scale(None, "sum")
('mean', 'sum')
>>> batch_scale(nn.CrossEntropyLoss(weight=None, reduction="none"), None)
Traceback (most recent call last):
...
gradmath.errors.InvalidParameterError: loss CrossEntropyLoss(reduction='none'): the monitor undoes reduction 'mean' or 'sum' only; pass a loss with either (or reduction='mean'/'sum' to say which one the loss uses)
"""

from __future__ import annotations

from dataclasses import dataclass

from gradmath.errors import InvalidParameterError

__all__ = ["WatchedLayer", "watched_layers", "stored_tensor", "batch_scale", "REDUCTIONS"]

#: The batch reductions the monitor can undo.
REDUCTIONS = ("mean", "sum")

#: Modules passed over when looking for the activation that follows a layer.
_TRANSPARENT = ("Dropout", "Identity", "Flatten")


@dataclass(frozen=True, eq=False)
class WatchedLayer:
    """One weighted layer: its number l (as the verifier counts), module name, kind and module.

    ``kind`` is ``"Linear"`` or ``"Conv2d"``, also for a subclass of either (``nn.MultiheadAttention``'s
    ``out_proj``, a user's ``class MyLinear(nn.Linear)``).

    ``activation`` is the class name of the elementwise module after it in its
    ``nn.Sequential`` (``None`` when there is none or the model is not a Sequential).
    """

    l: int
    name: str
    kind: str
    module: object
    activation: str | None = None
    activation_module: object = None


def watched_layers(model) -> list[WatchedLayer]:
    """The ``nn.Linear`` and ``nn.Conv2d`` modules of ``model``, numbered l = 2, 3, …"""
    from torch import nn

    followers = _followers(model, nn)
    layers = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            act = followers.get(id(module))
            kind = "Linear" if isinstance(module, nn.Linear) else "Conv2d"   # a subclass is its base's kind
            layers.append(WatchedLayer(len(layers) + 2, name or "(model)", kind, module,
                                       None if act is None else type(act).__name__, act))
    return layers


def stored_tensor(module, name: str):
    """``(tensor, why)``: the module's ``name`` (``"weight"`` or ``"bias"``) as stored, read without running a
    parametrization (``module.weight`` of a spectral_norm layer runs a power iteration that updates its state, and
    the training would not be that of the same run without the monitor). ``tensor`` is None where there is none
    (``why`` empty) or where no ``.grad`` of it holds the gradient (``why`` says why)."""
    params = module._parameters
    if name in params:
        return params[name], ""
    from torch.nn.utils import parametrize

    if parametrize.is_parametrized(module, name):
        return None, ("parametrized (torch.nn.utils.parametrize, e.g. spectral_norm or weight_norm): the "
                      "gradients go to the tensors it is computed from")
    value = module.__dict__.get(name)
    if value is not None and not value.is_leaf:
        return None, ("computed from other tensors at each forward pass (e.g. torch.nn.utils.weight_norm): the "
                      "gradients go to the tensors it is computed from")
    return value, ""


def _followers(model, nn) -> dict[int, object]:
    """For each weighted module inside an ``nn.Sequential``, the next module that is not passed over."""
    found = {}
    for parent in model.modules():
        if not isinstance(parent, nn.Sequential):
            continue
        children = list(parent)
        for i, child in enumerate(children):
            if not isinstance(child, (nn.Linear, nn.Conv2d)):
                continue
            for later in children[i + 1:]:
                if type(later).__name__ in _TRANSPARENT:
                    continue
                if not isinstance(later, (nn.Linear, nn.Conv2d, nn.Sequential)):
                    found[id(child)] = later
                break
    return found


def batch_scale(loss, reduction: str | None) -> str:
    """The batch reduction to undo: ``"mean"`` (multiply by N) or ``"sum"`` (as is).

    ``reduction`` wins when given; else the loss module's own ``reduction``; else PyTorch's
    default, ``"mean"``. A weighted loss or another reduction is refused with the fix.
    """
    if reduction is not None:
        if reduction not in REDUCTIONS:
            raise InvalidParameterError(f"reduction={reduction!r}: the monitor undoes 'mean' (multiply by the "
                                        "batch size) or 'sum' (as is); pass one of them")
        return reduction
    if loss is None:
        return "mean"
    kind = type(loss).__name__
    found = getattr(loss, "reduction", None)
    if found not in REDUCTIONS:
        raise InvalidParameterError(f"loss {kind}(reduction={found!r}): the monitor undoes reduction 'mean' or "
                                    "'sum' only; pass a loss with either (or reduction='mean'/'sum' to say which "
                                    "one the loss uses)")
    if found == "mean" and getattr(loss, "weight", None) is not None:
        raise InvalidParameterError(f"loss {kind}(weight=...) with reduction='mean' divides by the sum of the "
                                    "weights, not the batch size; per-example δ cannot be recovered from the "
                                    "batch gradient (pass reduction='sum' to record the batch gradient as is)")
    return found
