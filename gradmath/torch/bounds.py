"""Bounds (a) and (b) of :mod:`gradmath.bounds` per layer and step, on the device, for chain models.

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
the previous step's vector (one product with wʳ and one with (wʳ)ᵀ per step), which
approaches ‖wʳ‖₂ from below; for p = 1, ∞ the row or column sums in the training dtype. Neither
is a certified upper bound, so every bound here is recorded as an estimate
(``bound_a_estimate``, ``bound_b_estimate``); ``gradmath verify`` on ``from_torch(model)``
certifies them. Products over depth are sums of log10 values.
"""

from __future__ import annotations

import math
import warnings

from gradmath.errors import FormatError, GradmathError
from gradmath.norms import check_norm

__all__ = ["ChainBounds", "chain_bounds", "BOUND_QUANTITIES", "WARM_START_ITERATIONS"]

#: The quantities a bound step records per layer, in this order.
BOUND_QUANTITIES = ("weight_norm_estimate", "bound_a_estimate", "bound_b_estimate")

#: Power iterations on attaching (from a fixed start vector); later steps take ``power_iterations`` each.
WARM_START_ITERATIONS = 30


class ChainBounds:
    """The state of the bounds for one chain model: γ_h, the activations and the power-iteration vectors."""

    def __init__(self, layers, hidden_activation: str, gamma_hidden: float, norm: str, power_iterations: int):
        self.layers = layers
        self.hidden_activation = hidden_activation
        self.gamma_hidden = gamma_hidden
        self.norm = norm
        self.power_iterations = power_iterations
        self._vectors: dict[int, object] = {}
        self._gamma_parts: dict = {}

    @property
    def ord(self) -> float:
        return {"2": 2.0, "1": 1.0, "inf": math.inf}[self.norm]

    def weight_norm(self, layer):
        """‖(wˡ)ᵀ‖_p of ``layer`` now, a device scalar (warm-started power iteration for p = 2)."""
        w = layer.module.weight.detach()
        if self.norm == "2":
            return self._power(layer.l, w)
        if self.norm == "1":   # ‖wᵀ‖₁ = ‖w‖_∞, the largest row sum of |w|
            return w.abs().sum(dim=1).amax()
        return w.abs().sum(dim=0).amax()  # ‖wᵀ‖_∞ = ‖w‖₁, the largest column sum of |w|

    def _power(self, l: int, w):
        import torch

        v = self._vectors.get(l)
        iterations = self.power_iterations
        if v is None or v.device != w.device or v.dtype != w.dtype or v.shape[0] != w.shape[1]:
            generator = torch.Generator().manual_seed(l)  # never the global generator: training draws stay as they are
            v = torch.randn(w.shape[1], generator=generator, dtype=torch.float64).to(device=w.device, dtype=w.dtype)
            v = v / torch.linalg.vector_norm(v)
            iterations = WARM_START_ITERATIONS
        sigma = None
        for _ in range(iterations):
            u = torch.mv(w, v)
            t = torch.mv(w.T, u)
            norm_t = torch.linalg.vector_norm(t)
            sigma = norm_t / torch.linalg.vector_norm(u)    # ‖wᵀu‖/‖u‖ ≥ ‖wv‖, and ≤ ‖w‖₂
            v = t / norm_t
        self._vectors[l] = v
        return sigma

    def weight_norms(self) -> list:
        """:meth:`weight_norm` of every layer, for p = 2 with the warm-started power iterations of all layers
        taken together (one matrix-vector product per layer and direction, the norms and divisions in
        foreach kernels); a layer without a usable vector starts afresh as in :meth:`weight_norm`."""
        import torch

        if self.norm != "2" or not hasattr(torch, "_foreach_norm"):
            return [self.weight_norm(layer) for layer in self.layers]
        out, warm = [], []
        for i, layer in enumerate(self.layers):
            w = layer.module.weight.detach()
            v = self._vectors.get(layer.l)
            if v is None or v.device != w.device or v.dtype != w.dtype or v.shape[0] != w.shape[1]:
                out.append(self._power(layer.l, w))
            else:
                out.append(None)
                warm.append((i, w, v))
        if warm:
            ws, vs = [w for _, w, _ in warm], [v for _, _, v in warm]
            sigmas = None
            for _ in range(self.power_iterations):
                us = [torch.mv(w, v) for w, v in zip(ws, vs)]
                ts = [torch.mv(w.T, u) for w, u in zip(ws, us)]
                norms_t = torch._foreach_norm(ts)
                sigmas = torch._foreach_div(norms_t, torch._foreach_norm(us))   # ‖wᵀu‖/‖u‖ ≤ ‖w‖₂
                vs = torch._foreach_div(ts, norms_t)
            for (i, _, _), v, sigma in zip(warm, vs, sigmas):
                self._vectors[self.layers[i].l] = v
                out[i] = sigma
        return out

    def prime_parts(self, zs: dict):
        """:meth:`prime_part` of the hidden layers' zˡ in ``zs`` (layer → zˡ), stacked: an (L − 2, N) tensor
        (``None`` for the identity); for sigmoid, tanh and ReLU the layers of one shape in one kernel each."""
        import torch

        hidden = self.layers[:-1]
        if not hidden or hidden[0].activation_module is None:
            return None
        act = hidden[0].activation
        if act not in ("Sigmoid", "Tanh", "ReLU") or len({zs[layer.l].shape for layer in hidden}) != 1:
            return torch.stack([self.prime_part(layer, zs[layer.l]) for layer in hidden])
        flat = torch.stack([zs[layer.l] for layer in hidden]).flatten(2)
        return flat.abs().amin(dim=2) if act != "ReLU" else (flat.amax(dim=2) > 0).to(flat.dtype)

    def restart(self, l: int) -> None:
        """Forget layer l's vector (after a NaN or a zero matrix); the next step starts afresh."""
        self._vectors.pop(l, None)

    def prime_part(self, layer, z):
        """What max_j |σ′(zˡ_j)| per example needs from zˡ: min_j |zˡ_j| where σ′ is largest at the smallest
        |z| (sigmoid, tanh), whether some zˡ_j > 0 (ReLU, PyTorch's σ′(0) = 0), else max_j |σ′| by autograd
        through the activation module; ``None`` for the identity (two Linear layers in a row)."""
        import torch

        act = layer.activation
        if layer.activation_module is None:
            return None
        flat = z.detach().flatten(1)
        if act in ("Sigmoid", "Tanh"):
            return flat.abs().amin(dim=1)
        if act == "ReLU":
            return (flat.amax(dim=1) > 0).to(z.dtype)
        with torch.enable_grad():
            zz = z.detach().requires_grad_(True)
            out = layer.activation_module(zz)
            (prime,) = torch.autograd.grad(out, zz, torch.ones_like(out))
        return prime.abs().flatten(1).amax(dim=1)

    def _log10_prime_max(self, parts):
        """log10 max_j |σ′(zʳ_j)| per hidden layer and example, from the stacked :meth:`prime_part` values."""
        import torch

        act = self.layers[0].activation if self.layers[0].activation_module is not None else None
        if act == "Sigmoid":   # σ(x)σ(−x), without the cancellation of σ(1 − σ)
            return torch.log10(torch.sigmoid(parts) * torch.sigmoid(-parts))
        if act == "Tanh":      # sech², without the cancellation of 1 − tanh²
            return -2 * torch.log10(torch.cosh(parts))
        return torch.log10(parts)

    def combine(self, norms: dict, parts, log10_delta_out):
        """log10 of the weight norms and of the largest bounds (a) and (b) over the batch, per layer.

        ``norms`` maps each layer l to ‖(wˡ)ᵀ‖ (:meth:`weight_norms`, of the weights the gradient went
        through) and ``parts`` holds the hidden layers' :meth:`prime_part` values stacked
        (:meth:`prime_parts`; ``None`` for the identity); ``log10_delta_out`` holds log10 ‖δᴸ‖_p per
        example (the reduction already undone).
        Returns a (3, L − 1) device tensor.
        """
        import torch

        dtype, device = log10_delta_out.dtype, log10_delta_out.device
        log_w = torch.log10(torch.stack([norms[layer.l] for layer in self.layers]).to(dtype))
        count = len(self.layers)
        # suffix[i] = Σ_{r > l} log10 ‖(wʳ)ᵀ‖ for layer l = i + 2
        suffix = torch.flip(torch.cumsum(torch.flip(log_w, (0,)), 0), (0,)) - log_w
        gamma_part = self._gamma_parts.get((dtype, device))   # (L − l)·log10 γ_h, made once per dtype and device
        if gamma_part is None:
            hidden = torch.arange(count - 1, -1, -1, dtype=dtype, device=device)  # L − l
            gamma_part = self._gamma_parts[(dtype, device)] = hidden * math.log10(self.gamma_hidden)
        bound_a = gamma_part + suffix + log10_delta_out.amax()
        if count > 1:
            if parts is None:   # the identity between Linear layers: σ′ = 1
                m = torch.zeros((count - 1, log10_delta_out.shape[0]), dtype=dtype, device=device)
            else:
                m = self._log10_prime_max(parts.to(dtype))
            tail = torch.flip(torch.cumsum(torch.flip(m, (0,)), 0), (0,))                     # Σ_{r ≥ l}
            tail = torch.cat([tail, torch.zeros_like(tail[:1])])
        else:
            tail = torch.zeros((1, log10_delta_out.shape[0]), dtype=dtype, device=device)
        bound_b = (tail + log10_delta_out).amax(dim=1) + suffix
        return torch.stack([log_w, bound_a, bound_b])


def chain_bounds(model, layers, norm="2", power_iterations: int = 1) -> tuple[ChainBounds | None, str]:
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
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConversionNote)
            network = from_torch(model)  # the loss does not enter: the bounds start from the measured δᴸ
        gamma = sup_abs_prime(network.hidden_activation) if network.depth > 2 else 1.0
    except (GradmathError, FormatError) as err:
        return None, f"bounds (a) and (b) need what gradmath.formats.from_torch accepts: {err}"
    if len(layers) != network.depth - 1:
        return None, "the model's nn.Linear layers are not one chain"
    return ChainBounds(layers, network.hidden_activation, gamma, norm, power_iterations), ""
