"""What the autotuner chooses between: how a score model's graphs run, as plain values (TF-free).

A :class:`PathChoice` names, for one score model, the :class:`Route` of its forward passes (the fast
front of :mod:`pix2pixai.producers.input_gradient`), the route of its input gradients (the backward
chain) and the inputs per compiled call. Every choice computes the same numbers (float32 rounding
apart); only the speed differs, and which is fastest depends on the CPU or GPU, so
:mod:`pix2pixai.producers.autotune` picks one by measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: ``"fused"``: the hand-written kernels (fused thin-input convolutions, flipped-kernel and routed
#: backward passes); ``"framework"``: TF's own convolution and pooling ops and their gradients.
KERNELS = ("fused", "framework")


@dataclass(frozen=True)
class Route:
    """How the layers next to the image run: which kernels, and whether dormant filters are left out."""

    kernels: str = "fused"
    dormant: bool = True

    def __post_init__(self) -> None:
        if self.kernels not in KERNELS:
            raise ValueError(f"kernels={self.kernels!r}: expected one of {KERNELS}")

    @property
    def name(self) -> str:
        """``"fused+dormant"``, ``"fused"``, ``"framework+dormant"`` or ``"framework"``."""
        return self.kernels + ("+dormant" if self.dormant else "")

    @classmethod
    def from_name(cls, name: str) -> Route:
        """The route named by :attr:`name`."""
        kernels, _, rest = name.partition("+")
        if rest not in ("", "dormant"):
            raise ValueError(f"route {name!r}: expected one of {[r.name for r in ROUTES]}")
        return cls(kernels, rest == "dormant")


#: Every route, the default (today's hand-tuned one) first.
ROUTES = (Route("fused", True), Route("fused", False), Route("framework", True), Route("framework", False))
DEFAULT_ROUTE = ROUTES[0]


@dataclass(frozen=True)
class PathChoice:
    """One score model's routes and call size.

    ``forward``: route of forward passes (predictions, Grad-CAM, CAM, blanking's scores);
    ``gradient``: route of input gradients (saliency, integrated gradients, SHAP);
    ``rows_per_call``: inputs per compiled call when the caller leaves the batch size open.
    """

    forward: Route
    gradient: Route
    rows_per_call: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the cache file, a run's manifest)."""
        return {"forward": self.forward.name, "gradient": self.gradient.name, "rows_per_call": self.rows_per_call}

    @classmethod
    def from_dict(cls, data: Any) -> PathChoice:
        """The choice :meth:`as_dict` wrote; ``ValueError`` / ``TypeError`` / ``KeyError`` on anything else."""
        rows = data["rows_per_call"]
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
            raise ValueError(f"rows_per_call={rows!r}: expected a positive integer")
        return cls(Route.from_name(data["forward"]), Route.from_name(data["gradient"]), rows)


@dataclass(frozen=True)
class Override:
    """A forced part of a choice (``None``: keep what would be chosen otherwise), e.g. for benchmarks."""

    forward: Route | None = None
    gradient: Route | None = None
    rows_per_call: int | None = None

    def applied_to(self, choice: PathChoice) -> PathChoice:
        """``choice`` with the forced parts replaced."""
        return PathChoice(self.forward or choice.forward, self.gradient or choice.gradient,
                          self.rows_per_call or choice.rows_per_call)
