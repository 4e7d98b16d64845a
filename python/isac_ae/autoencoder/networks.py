"""The six networks of Table I, as ensembles of independent members.

Every network holds ``members`` independent copies of its weights (leading
dimension E) and runs them with one batched matrix product per layer. A sweep
over omega_r trains all its points as one ensemble (each member sees its own
loss, Adam is element-wise, so members never interact); a deployed model is an
ensemble of one. Shapes: inputs and outputs carry the member dimension first,
(E, N, ...).

Widths derive from K and |M| as in Table I (hidden layers at least :data:`MIN_HIDDEN` wide, which
changes nothing for K >= 16; ``hidden_scale`` times wider for a conditioned model); hidden layers use ReLU.
A conditioned network (``conditions`` > 0) reads a condition vector (C, conditions), e.g. omega_r's
features, as extra inputs of its first layer, one per row of its batch: its output (C, N, ...) is the
network at each condition, with one set of weights (members = 1). Complex
quantities enter and leave as [real parts, imaginary parts]. Where Table I's
output activation would harm training, the network returns the quantity before
it and the loss applies the activation in a numerically safe form:

* the presence detector returns a logit (q = sigmoid(logit), BCE with logits);
* the comm receiver returns logits (softmax inside the cross-entropy);
* the uncertainty estimator returns sigma = softplus(.) + SIGMA_FLOOR instead of
  a bare ReLU, which can output exactly 0 and make the NLL explode.
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: Smallest predicted AoA standard deviation, radians (0.001°): keeps log(sigma)
#: and 1/sigma^2 in the NLL finite whatever the network outputs.
SIGMA_FLOOR = math.radians(1e-3)

#: Narrowest hidden layer. Table I's widths scale with K; at K = 2 (a 2R2T Pluto) the encoder's hidden
#: layers are 2, 2 and 4 ReLUs wide, dead units merge messages and training collapsed the 4-point
#: constellation (SER 0.75 on three of four seeds). Hidden layers are at least this wide; for K >= 16
#: (the paper's K and every shipped model) Table I's widths are unchanged.
MIN_HIDDEN = 16


def hidden(width: int, scale: int = 1) -> int:
    """A hidden layer's width: Table I's, at least :data:`MIN_HIDDEN`, times ``scale``."""
    return max(int(width), MIN_HIDDEN) * scale


class EnsembleLinear(nn.Module):
    """E independent affine maps: x (E, N, n_in) -> (E, N, n_out).

    Initialised as torch.nn.Linear (uniform in +-1/sqrt(n_in)), member by member.
    """

    def __init__(self, members: int, n_in: int, n_out: int):
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)
        self.weight = nn.Parameter(torch.empty(members, n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, n_out).uniform_(-bound, bound))
        self.register_buffer("input_order", None, persistent=False)

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[2]

    def read_inputs_in_order(self, order: torch.Tensor) -> None:
        """Feed input position i to weight row ``order[i]``: the stored layout stays, the input may be permuted."""
        self.input_order = order

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """x (E, N, n_in) -> (E, N, n_out). One member serves a batch of C conditions: x (C, N, n_in), or
        with ``condition`` (C, c) x (C, N, n_in - c), the last c weight rows reading the condition (constant
        over N, so its term joins the bias instead of being concatenated to every row)."""
        weight = self.weight if self.input_order is None else self.weight[:, self.input_order]
        bias = self.bias
        if condition is not None:
            c = condition.shape[-1]
            bias = bias + condition.unsqueeze(1) @ weight[:, -c:]  # (C, 1, n_out)
            weight = weight[:, :-c]
        return torch.baddbmm(bias, x, weight.expand(x.shape[0], -1, -1))


class EnsembleMLP(nn.Module):
    """Fully connected layers of the given widths, ReLU between them, linear output."""

    def __init__(self, members: int, sizes: list[int]):
        super().__init__()
        self.layers = nn.ModuleList(EnsembleLinear(members, a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x, condition) if i == 0 else layer(x)
            if i < len(self.layers) - 1:
                x = x.relu_()  # in place: baddbmm's backward needs its inputs, not its output
        return x


def interleaved(z: torch.Tensor) -> torch.Tensor:
    """(..., n) complex -> (..., 2n) real: [Re z_1, Im z_1, Re z_2, ...], a view (no copy, nor in backward)."""
    return torch.view_as_real(z).flatten(-2)


def interleaved_order(n: int) -> torch.Tensor:
    """For each position of :func:`interleaved`, its index in the layout [Re z, Im z]."""
    return torch.arange(2 * n).reshape(2, n).T.flatten()


def real_to_complex(x: torch.Tensor) -> torch.Tensor:
    """(..., 2n) real [Re z, Im z] -> (..., n) complex z."""
    n = x.shape[-1] // 2
    return torch.complex(x[..., :n], x[..., n:])


class Encoder(nn.Module):
    """f_epsilon: message -> constellation point. Table I: |M| -> (K, K, 2K) -> 2."""

    def __init__(self, num_antennas: int, num_messages: int, members: int = 1, conditions: int = 0, scale: int = 1):
        super().__init__()
        k = num_antennas
        self.num_messages = num_messages
        sizes = [num_messages + conditions, hidden(k, scale), hidden(k, scale), hidden(2 * k, scale), 2]
        self.net = EnsembleMLP(members, sizes)

    def constellation(self, condition: torch.Tensor | None = None) -> torch.Tensor:
        """All |M| points at once (the one-hot inputs are the identity), (E or C, |M|) complex."""
        w = self.net.layers[0].weight
        rows = w.shape[0] if condition is None else len(condition)
        one_hot = torch.eye(self.num_messages, dtype=w.dtype, device=w.device).expand(rows, -1, -1)
        return real_to_complex(self.net(one_hot, condition)).squeeze(-1)

    def forward(self, messages: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """messages (N,) int64 -> x(m), (E or C, N) complex."""
        return self.constellation(condition)[:, messages]


class Beamformer(nn.Module):
    """f_mu: Theta = [theta_min, theta_max, vartheta_min, vartheta_max] (radians) -> v, (E, K) complex.

    Table I: 4 -> (K, K, 2K) -> K complex outputs, i.e. 2K reals (Table I counts complex outputs).
    """

    def __init__(self, num_antennas: int, members: int = 1, conditions: int = 0, scale: int = 1):
        super().__init__()
        k = num_antennas
        self.net = EnsembleMLP(
            members, [4 + conditions, hidden(k, scale), hidden(k, scale), hidden(2 * k, scale), 2 * k]
        )

    def forward(self, sectors: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """sectors (4,) radians, or (C, 4) one per condition -> v, (E or C, K) complex."""
        rows = self.net.layers[0].weight.shape[0] if condition is None else len(condition)
        return real_to_complex(self.net(sectors.reshape(-1, 1, 4).expand(rows, 1, 4), condition)).squeeze(1)


class RadarHead(nn.Module):
    """Shared shape of the three radar networks: features (E, N, 2K) real -> (E, N).

    Table I: 2K -> (2K, 2K, K) -> 1 with input [Re z, Im z], the order of the
    first layer's weight rows in model files. The head is fed
    :func:`interleaved` (z), computed once per snapshot for all three heads,
    and reads its first layer's rows in that order: the same function as on
    [Re z, Im z], without the copies that splitting z into real and imaginary
    halves costs in every training step (forward and backward).
    """

    def __init__(self, num_antennas: int, members: int = 1, conditions: int = 0, scale: int = 1):
        super().__init__()
        k = num_antennas
        self.net = EnsembleMLP(
            members, [2 * k + conditions, hidden(2 * k, scale), hidden(2 * k, scale), hidden(k, scale), 1]
        )
        order = interleaved_order(k)
        self.net.layers[0].read_inputs_in_order(torch.cat([order, torch.arange(2 * k, 2 * k + conditions)]))

    def features(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x, condition).squeeze(-1)


class PresenceDetector(RadarHead):
    """f_rho: returns the logit of q = p(target | z_r)."""

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.features(x, condition)


class AngleEstimator(RadarHead):
    """f_nu: returns theta_hat in (-pi/2, pi/2) radians (tanh output scaled)."""

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return 0.5 * math.pi * torch.tanh(self.features(x, condition))


class UncertaintyEstimator(RadarHead):
    """f_sigma: returns sigma_hat >= SIGMA_FLOOR radians (softplus, see module docstring)."""

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return nn.functional.softplus(self.features(x, condition)) + SIGMA_FLOOR


class CommReceiver(nn.Module):
    """f_eta: CSI-equalised z_c / kappa, (E, N) complex -> message logits (E, N, |M|).

    Table I: 2 -> (K, 2K, 2K) -> |M|.
    """

    def __init__(self, num_antennas: int, num_messages: int, members: int = 1, conditions: int = 0, scale: int = 1):
        super().__init__()
        k = num_antennas
        sizes = [2 + conditions, hidden(k, scale), hidden(2 * k, scale), hidden(2 * k, scale), num_messages]
        self.net = EnsembleMLP(members, sizes)

    def forward(self, equalised: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(torch.stack([equalised.real, equalised.imag], dim=-1), condition)
