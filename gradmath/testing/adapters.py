"""Adapters: a batched NumPy function, a PyTorch module with a loss, a JAX function, as one interface.

:func:`~gradmath.testing.check.check_backprop` takes network2's per-example
``backprop(weights, biases, x, y) -> (nabla_b, nabla_w)`` as it is. Anything else is wrapped in an
:class:`Adapter` whose ``function`` takes a mini-batch in network2's layout, ``x`` of shape
``(n_in, m)`` and ``y`` of shape ``(n_out, m)`` (one column per example), and returns the mean
gradients over the batch, as network2's ``update_mini_batch`` uses them (``nabla_b[i]`` of shape
``(n_out, 1)``, ``nabla_w[i]`` of shape ``(n_out, n_in)``).

Examples
--------
>>> import numpy as np
>>> def mean_backprop(weights, biases, x, y):      # one sigmoid layer, cross-entropy: δ = a − y
...     a = 1 / (1 + np.exp(-(weights[0] @ x + biases[0])))
...     delta = a - y
...     return [delta.mean(axis=1, keepdims=True)], [delta @ x.T / x.shape[1]]
>>> adapter = from_batched_numpy(mean_backprop)
>>> adapter
Adapter(name='mean_backprop', batched=True, sizes=None)
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gradmath.errors import InvalidParameterError, MissingDependencyError

__all__ = ["Adapter", "from_batched_numpy", "from_torch", "from_jax"]


@dataclass(frozen=True)
class Adapter:
    """A gradient function on mini-batches in network2's layout, returning the mean gradients.

    ``sizes`` is the fixed shape of a model (a PyTorch module), or ``None`` when any shape works.
    """

    name: str
    function: Callable = field(repr=False)
    batched: bool = True
    sizes: tuple[int, ...] | None = None

    def __call__(self, weights, biases, x, y):
        return self.function(weights, biases, x, y)


def _name(function) -> str:
    return getattr(function, "__name__", type(function).__name__)


def from_batched_numpy(function: Callable) -> Adapter:
    """Wrap ``function(weights, biases, x, y)`` that takes ``x`` (n_in, m) and returns the mean gradients."""
    if not callable(function):
        raise InvalidParameterError(f"function={function!r} must be callable as function(weights, biases, x, y)")
    return Adapter(_name(function), function)


def from_torch(model, loss: Callable) -> Adapter:
    """Wrap a PyTorch module and a loss; the module's ``nn.Linear`` layers, in order, take the drawn weights.

    Parameters
    ----------
    model : torch.nn.Module
        Typically an ``nn.Sequential`` of ``nn.Linear`` layers (with biases) and activations. It is
        copied and run in float64; the original is not changed.
    loss : callable
        ``loss(output, target)`` on tensors with one row per example, returning the cost **summed over
        the outputs and averaged over the examples**, as network2 does: for the quadratic cost
        ``lambda a, y: 0.5 * ((a - y) ** 2).sum(dim=1).mean()``.

    Raises
    ------
    MissingDependencyError
        If PyTorch is not installed.
    InvalidParameterError
        If the model has no ``nn.Linear`` layer, or one without a bias.
    """
    try:
        import torch
    except ImportError as err:
        raise MissingDependencyError("from_torch needs PyTorch, which is not installed; "
                                     "install it with pip install torch") from err
    if not isinstance(model, torch.nn.Module):
        raise InvalidParameterError(f"model={type(model).__name__} must be a torch.nn.Module such as nn.Sequential")
    model = copy.deepcopy(model).double()
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise InvalidParameterError("model has no nn.Linear layer to take the drawn weights")
    if any(lin.bias is None for lin in linears):
        raise InvalidParameterError("every nn.Linear layer needs a bias (network2's layout has one per layer)")
    sizes = (linears[0].in_features,) + tuple(lin.out_features for lin in linears)

    def function(weights, biases, x, y):
        with torch.no_grad():
            for lin, w, b in zip(linears, weights, biases):
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
                lin.bias.copy_(torch.from_numpy(np.ascontiguousarray(b[:, 0])))
        model.zero_grad(set_to_none=True)
        out = model(torch.from_numpy(np.ascontiguousarray(x.T)))
        value = loss(out, torch.from_numpy(np.ascontiguousarray(y.T)))
        value.backward()
        return ([lin.bias.grad.numpy()[:, None].copy() for lin in linears],
                [lin.weight.grad.numpy().copy() for lin in linears])

    return Adapter(f"{type(model).__name__} with {_name(loss)}", function, True, sizes)


def from_jax(function: Callable) -> Adapter:
    """Wrap ``function(weights, biases, x, y)``, a JAX function returning the mean cost over the batch.

    Gradients are taken by ``jax.grad`` in float64 (``jax_enable_x64``). JAX is imported only here.

    Raises
    ------
    MissingDependencyError
        If JAX is not installed.
    """
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as err:
        raise MissingDependencyError("from_jax needs JAX, which is not installed; install it with pip install jax"
                                     ) from err
    jax.config.update("jax_enable_x64", True)
    grad = jax.grad(function, argnums=(0, 1))

    def gradients(weights, biases, x, y):
        g_w, g_b = grad([jnp.asarray(w) for w in weights], [jnp.asarray(b) for b in biases],
                        jnp.asarray(x), jnp.asarray(y))
        return [np.asarray(b, dtype=np.float64) for b in g_b], [np.asarray(w, dtype=np.float64) for w in g_w]

    return Adapter(_name(function), gradients)
