"""`Limits`: the budgets and caps of one episode (steps, wall clock, tokens, memory, processes, disk, output).

A leaf: the env, the agent's kernel, records, play and replay all read the same definition.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    """Budgets of one episode; any of them running out truncates it."""

    max_steps: int = 50
    wall_clock_s: float = 4 * 3600.0
    cell_timeout_s: float = 600.0
    max_validations: int = 5
    max_tokens: int | None = None
    observation_chars: int = 8000
    memory_bytes: int | None = 8 * 1024**3  # the kernel's whole process tree
    max_processes: int | None = 512
    disk_bytes: int | None = 20 * 1024**3  # the workspace
    output_bytes: int = 2_000_000  # one cell's stream output kept (head + tail)

    def __post_init__(self) -> None:
        for name in ("max_steps", "wall_clock_s", "cell_timeout_s", "observation_chars"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive, got {getattr(self, name)!r}.")
        if self.max_validations < 0:
            raise ValueError("Limits.max_validations must be 0 or more.")
