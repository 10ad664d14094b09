"""Bounds (a) and (b) of :mod:`gradmath.bounds` per layer and step, for chain models.

For a model that :func:`gradmath.formats.from_torch` accepts (an ``nn.Sequential`` of
``nn.Linear`` layers and one elementwise hidden activation), Nielsen's (124) gives
δˡ = Σ′(zˡ)(wˡ⁺¹)ᵀ ⋯ Σ′(zᴸ⁻¹)(wᴸ)ᵀ δᴸ, so in the induced p-norm, per example,

(a) ‖δˡ‖ ≤ γ_h^(L−l) · ∏_{r=l+1}^{L} ‖(wʳ)ᵀ‖ · ‖δᴸ‖,
(b) ‖δˡ‖ ≤ ∏_{r=l}^{L−1} max_j |σ′(zʳ_j)| · ∏_{r=l+1}^{L} ‖(wʳ)ᵀ‖ · ‖δᴸ‖,

with γ_h = sup|σ′| from :func:`gradmath.bounds.sup_abs_prime` (proven, never estimated).
These are the verifier's bounds with its output factor c_out·‖aᴸ − y‖ replaced by the measured
‖δᴸ‖ ≤ c_out‖aᴸ − y‖ (equal for cross-entropy and log-loss, where δᴸ = aᴸ − y), so they hold
whatever loss the model was trained with. The monitor records the largest bound over the
batch's examples beside the largest measured ‖δˡ‖ (``delta_norm_max``).

The weight norms are kept cheap across steps: for p = 2 a power iteration warm-started from
the previous step's vector, one matrix–vector product per layer and step, with wʳ and (wʳ)ᵀ in
turn, which approaches ‖wʳ‖₂ from below; for p = 1, ∞ the row or column sums in the training dtype. Neither
is a certified upper bound, so every bound here is recorded as an estimate
(``bound_a_estimate``, ``bound_b_estimate``); ``gradmath verify`` on ``from_torch(model)``
certifies them.

What needs the step's tensors is done on the device, in few kernels and without a host sync: one
number per hidden layer and example from zʳ, in the forward pass while zʳ is at hand
(:meth:`ChainBounds.prime_part`), and the weight norms once the backward pass has ended
(:meth:`ChainBounds.weight_norms`). The rest, max|σ′| from those numbers and the products over
depth as sums of log10 values, is done on the host in float64 for all the steps of one copy
together (:meth:`ChainBounds.log10_bounds`).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from gradmath.errors import FormatError, GradmathError
from gradmath.norms import check_norm

__all__ = ["ChainBounds", "chain_bounds", "examples", "BOUND_QUANTITIES", "COLD_START_PRODUCTS"]

#: The quantities a bound step records per layer, in this order.
BOUND_QUANTITIES = ("weight_norm_estimate", "bound_a_estimate", "bound_b_estimate")

#: Matrix–vector products of a layer's first step (from a fixed start vector), 30 power iterations;
#: later steps take ``power_steps`` each.
COLD_START_PRODUCTS = 60


def examples(t):
    """``t`` as (examples, values of each): a batch's first axis, all the others flattened; an unbatched
    1-d tensor (an nn.Linear called on one example) is a batch of one."""
    return t.reshape(1, -1) if t.dim() == 1 else t.flatten(1)


class ChainBounds:
    """The state of the bounds for one chain model: γ_h, the activations and the power-iteration vectors.

    For p = 2 each layer keeps a unit vector x and which side of wʳ it is on. A step multiplies
    it by wʳ (x on the right) or by (wʳ)ᵀ (x on the left), takes ‖wʳx‖ or ‖(wʳ)ᵀx‖ as the estimate of
    ‖wʳ‖₂ (from below: x is a unit vector) and keeps the normalised product, on the other side. Two
    such steps make one power iteration of (wʳ)ᵀwʳ, so the estimate converges as the power iteration
    does, one matrix–vector product per layer and step.
    """

    def __init__(self, layers, hidden_activation: str, gamma_hidden: float, norm: str, power_steps: int):
        self.layers = layers
        self.hidden_activation = hidden_activation
        self.gamma_hidden = gamma_hidden
        self.norm = norm
        self.power_steps = power_steps
        self._xs: list | None = None      # per layer a unit vector
        self._right = True                # whether the vectors are on the right of the wʳ (or on the left)

    @property
    def ord(self) -> float:
        return {"2": 2.0, "1": 1.0, "inf": math.inf}[self.norm]

    def _power(self, l: int, w, state=None):
        """A cold start (``state`` None) or ``power_steps`` products from ``state``; returns (σ, new state)."""
        import torch

        steps = self.power_steps
        if state is None:
            generator = torch.Generator().manual_seed(l)  # never the global generator: training draws stay as they are
            x = torch.randn(w.shape[1], generator=generator, dtype=torch.float64).to(device=w.device, dtype=w.dtype)
            state, steps = (x / torch.linalg.vector_norm(x), True), COLD_START_PRODUCTS
        x, right = state
        sigma = None
        for _ in range(steps):
            y = torch.mv(w, x) if right else torch.mv(w.T, x)
            sigma = torch.linalg.vector_norm(y)     # ‖wx‖ or ‖wᵀx‖ of a unit x: ≤ ‖w‖₂
            x, right = y / sigma, not right
        return sigma, (x, right)

    def weight_norm(self, layer):
        """‖(wˡ)ᵀ‖_p of ``layer`` now, a device scalar (for p = 2 from a cold start: 30 power iterations)."""
        w = layer.module.weight.detach()
        if self.norm == "2":
            return self._power(layer.l, w)[0]
        if self.norm == "1":   # ‖wᵀ‖₁ = ‖w‖_∞, the largest row sum of |w|
            return w.abs().sum(dim=1).amax()
        return w.abs().sum(dim=0).amax()  # ‖wᵀ‖_∞ = ‖w‖₁, the largest column sum of |w|

    def weight_norms(self) -> list:
        """‖(wʳ)ᵀ‖_p of every layer now, device scalars. For p = 2 the warm-started power steps of all layers are
        taken together (one matrix–vector product per layer, the norms and divisions in one foreach kernel
        each); the first step, a restart or weights of another dtype, device or shape start afresh."""
        import torch

        if self.norm != "2" or not hasattr(torch, "_foreach_norm"):
            return [self.weight_norm(layer) for layer in self.layers]
        # the modules' parameter dicts, not module.weight (nn.Module.__getattr__ costs ~1 µs a layer and step);
        # read under no_grad: no detach needed
        ws = [layer.module._parameters["weight"] for layer in self.layers]
        xs, right = self._xs, self._right
        if xs is None or xs[0].dtype != ws[0].dtype:   # (another device: torch.mv raises, below)
            return self._cold_start(ws)
        sigmas, mv, vm = None, torch.mv, torch.matmul
        try:
            for _ in range(self.power_steps):   # every layer's x is on the same side
                ys = [mv(w, x) for w, x in zip(ws, xs)] if right else [vm(x, w) for w, x in zip(ws, xs)]
                sigmas = torch._foreach_norm(ys)      # ‖wx‖ or ‖wᵀx‖ = ‖xᵀw‖ of unit vectors: each ≤ ‖w‖₂
                xs, right = torch._foreach_div(ys, sigmas), not right
        except RuntimeError:   # a layer of another shape: start afresh
            return self._cold_start(ws)
        self._xs, self._right = xs, right
        return list(sigmas)

    def _cold_start(self, ws) -> list:
        results = [self._power(layer.l, w.detach()) for layer, w in zip(self.layers, ws)]
        # every layer took the same number of products from the right: their vectors are on one side
        self._xs, self._right = [x for _, (x, _) in results], results[0][1][1]
        return [sigma for sigma, _ in results]

    def restart(self, l: int) -> None:
        """Forget the vectors (after a NaN or a zero matrix in layer l); the next step starts afresh."""
        self._xs = None

    def prime_function(self, layer):
        """:meth:`prime_part` for ``layer`` as a function of zˡ alone (the common cases without their checks),
        or ``None`` for the identity."""
        act = layer.activation
        if layer.activation_module is None:
            return None
        if act in ("Sigmoid", "Tanh"):   # (not the norm of order −∞: on CPU it takes 10 times as long)
            return lambda z: (z.detach() if z.dim() == 2 else examples(z.detach())).abs().amin(dim=1)
        if act == "ReLU":
            return lambda z: (z.detach() if z.dim() == 2 else examples(z.detach())).amax(dim=1)
        return lambda z: self.prime_part(layer, z)

    def prime_part(self, layer, z):
        """What max_j |σ′(zˡ_j)| per example needs from zˡ, one number per example, taken in the forward pass:
        min_j |zˡ_j| where σ′ is largest at the smallest |z| (sigmoid, tanh), max_j zˡ_j (ReLU: is some
        zˡ_j > 0, PyTorch's σ′(0) being 0), else max_j |σ′| by autograd through the activation module;
        ``None`` for the identity (two Linear layers in a row)."""
        import torch

        act = layer.activation
        if layer.activation_module is None:
            return None
        flat = z.detach()
        if flat.dim() != 2:
            flat = examples(flat)
        if act in ("Sigmoid", "Tanh"):
            return flat.abs().amin(dim=1)
        if act == "ReLU":
            return flat.amax(dim=1)
        with torch.enable_grad():
            zz = z.detach().requires_grad_(True)
            out = layer.activation_module(zz)
            (prime,) = torch.autograd.grad(out, zz, torch.ones_like(out))
        return examples(prime.abs()).amax(dim=1)

    def log10_bounds(self, weight_norms, parts, delta_out):
        """log10 of the largest bounds (a) and (b) over each step's batch, per layer, on the host in float64.

        ``weight_norms`` is (steps, L′) of ‖(wˡ)ᵀ‖ (:meth:`weight_norms`, of the weights the gradient
        went through), ``parts`` (steps, L′ − 1, N) of the hidden layers' :meth:`prime_part` values
        (``None`` for the identity) and ``delta_out`` (steps, N) of ‖δᴸ‖_p per example (the reduction
        already undone), with L′ the number of weighted layers. Steps are taken together; products over
        depth are sums of logs. Returns two (steps, L′) arrays, bounds (a) and (b).
        """
        count = len(self.layers)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_w = np.log10(weight_norms)
            suffix = np.cumsum(log_w[:, ::-1], axis=1)[:, ::-1] - log_w         # Σ_{r > l} log10 ‖(wʳ)ᵀ‖
            log_d = np.log10(delta_out)
            hidden = np.arange(count - 1, -1, -1, dtype=float)                    # L − l
            bound_a = hidden * math.log10(self.gamma_hidden) + suffix + log_d.max(axis=1, initial=-np.inf)[:, None]
            m = None if count == 1 or parts is None else self._log10_prime_max(parts)
            tail = log_d.copy()   # Σ_{r ≥ l} log10 max_j |σ′(zʳ_j)| + log10 ‖δᴸ‖ per example, from l = L down
            bound_b = np.empty_like(bound_a)
            bound_b[:, -1] = tail.max(axis=1, initial=-np.inf)
            for i in range(count - 2, -1, -1):
                if m is not None:
                    tail += m[:, i, :]
                bound_b[:, i] = tail.max(axis=1, initial=-np.inf)
            bound_b += suffix
        return bound_a, bound_b

    def _log10_prime_max(self, parts):
        """log10 max_j |σ′(zʳ_j)| per hidden layer and example, from the :meth:`prime_part` values (float64)."""
        act = self.layers[0].activation if self.layers[0].activation_module is not None else None
        if act in ("Sigmoid", "Tanh"):   # in place: one array of parts' size (a new one costs page faults)
            x = np.abs(parts)
            t = np.multiply(x, -1.0 if act == "Sigmoid" else -2.0)
            np.exp(t, out=t)
            np.log1p(t, out=t)
            if act == "Sigmoid":   # log σ(x)σ(−x) = −|x| − 2 log(1 + e^−|x|), without cancellation
                t *= 2
                t += x
                t *= -1 / math.log(10)
            else:                  # log sech² x = −2(|x| + log(1 + e^−2|x|) − log 2)
                t += x
                t -= math.log(2)
                t *= -2 / math.log(10)
            return t
        if act == "ReLU":      # max_j σ′ is 1 if some zʳ_j > 0, else 0 (NaN stays NaN)
            return np.where(parts > 0, 0.0, np.where(np.isnan(parts), np.nan, -np.inf))
        return np.log10(parts)


def chain_bounds(model, layers, norm="2", power_steps: int = 1) -> tuple[ChainBounds | None, str]:
    """The bounds for ``model``, or ``None`` and the reason they do not apply."""
    from torch import nn

    from gradmath.bounds import sup_abs_prime
    from gradmath.formats.pytorch import ConversionNote, from_torch

    norm = check_norm(norm)
    if any(layer.kind != "Linear" for layer in layers):
        kinds = sorted({layer.kind for layer in layers if layer.kind != "Linear"})
        return None, f"bounds (a) and (b) are for chains of nn.Linear layers; the model has {', '.join(kinds)}"
    for module in model.modules():
        if isinstance(module, nn.Dropout) and module.p > 0:
            return None, (f"nn.Dropout(p={module.p}) multiplies by a random mask in training, which bounds (a) and "
                          "(b) do not allow for")
    for layer in layers:   # before from_torch, which reads module.weight: that would run a parametrization
        if "weight" not in layer.module._parameters:
            return None, (f"layer {layer.l} ({layer.name}): its weight is not a stored nn.Parameter (a "
                          "parametrization such as spectral_norm or weight_norm, or a tensor set in its place); the "
                          "bounds read the weights as stored")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConversionNote)
            network = from_torch(model)  # the loss does not enter: the bounds start from the measured δᴸ
        gamma = sup_abs_prime(network.hidden_activation) if network.depth > 2 else 1.0
    except (GradmathError, FormatError) as err:
        return None, f"bounds (a) and (b) need what gradmath.formats.from_torch accepts: {err}"
    if len(layers) != network.depth - 1:
        return None, "the model's nn.Linear layers are not one chain"
    return ChainBounds(layers, network.hidden_activation, gamma, norm, power_steps), ""
