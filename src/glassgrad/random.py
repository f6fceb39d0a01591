"""Seedable random number generation (``gg.manual_seed``, ``gg.Generator``)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Generator", "manual_seed", "seed", "default_generator", "get_rng_state", "set_rng_state"]


class Generator:
    """A seedable source of random numbers (PCG64), like ``torch.Generator``.

    Parameters
    ----------
    seed : int, optional
        Initial seed; without it the generator is seeded from the OS.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._seed = seed
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def manual_seed(self, seed: int) -> Generator:
        """Re-seed in place and return ``self`` (as ``torch.Generator.manual_seed``)."""
        self._seed = int(seed)
        self.rng = np.random.Generator(np.random.PCG64(int(seed)))
        return self

    def initial_seed(self) -> int | None:
        return self._seed

    def get_state(self) -> dict[str, Any]:
        """The generator state as a JSON-serializable dict (used by checkpoints)."""
        st = self.rng.bit_generator.state
        return {
            "bit_generator": st["bit_generator"],
            "state": {k: int(v) for k, v in st["state"].items()},
            "has_uint32": int(st["has_uint32"]),
            "uinteger": int(st["uinteger"]),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`get_state`."""
        self.rng.bit_generator.state = state

    def __repr__(self) -> str:
        return f"Generator(seed={self._seed})"


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (all of glassgrad's random functions use it by default)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the OS and return the seed used."""
    s = int(np.random.SeedSequence().entropy % (2**63))
    default_generator.manual_seed(s)
    return s


def get_rng_state() -> dict[str, Any]:
    return default_generator.get_state()


def set_rng_state(state: dict[str, Any]) -> None:
    default_generator.set_state(state)


# a callable, given the generator about to be used, that raises while random draws are
# refused or watches them (glassgrad.func.vmap: each sample needs its own draw), else None
_GUARD: list = [None]


def _rng(generator: Generator | None) -> np.random.Generator:
    if _GUARD[0] is not None:
        _GUARD[0](generator)
    return (generator or default_generator).rng
