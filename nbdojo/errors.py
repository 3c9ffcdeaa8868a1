"""Every error nbdojo raises, under one root: `NbdojoError`.

Builtins are subclassed where the meaning matches, so `except TimeoutError` or
`except KeyError` keep working for callers who do not know nbdojo's names.
"""

from __future__ import annotations


class NbdojoError(Exception):
    """Root of all nbdojo errors."""


class ConfigError(NbdojoError, ValueError):
    """A setting or option has a value nbdojo cannot use."""


class UnknownCompetitionError(NbdojoError, KeyError):
    """No competition is registered under that id."""

    def __init__(self, competition_id: str, suggestions: list[str] | None = None):
        self.competition_id = competition_id
        self.suggestions = list(suggestions or [])
        hint = f" Did you mean {' or '.join(repr(s) for s in self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"Unknown competition {competition_id!r}.{hint} (`nbdojo competitions list` shows all.)")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class CompetitionNotPreparedError(NbdojoError):
    """The competition's data has not been built yet."""


class ChecksumMismatchError(NbdojoError):
    """A prepared file does not match the checksum recorded when it was built."""


class SubmissionError(NbdojoError, ValueError):
    """A submission file cannot be graded; the message says what is wrong and how to fix it."""


class KernelError(NbdojoError):
    """Something went wrong with the Jupyter kernel itself (not with the agent's code)."""


class KernelStartError(KernelError):
    """The kernel did not start or did not answer within the start timeout."""


class KernelDiedError(KernelError):
    """The kernel process died (os._exit, segfault, OOM kill)."""


class CellTimeoutError(KernelError, TimeoutError):
    """A cell ran past its timeout."""


class SandboxError(NbdojoError):
    """The sandbox cannot be built on this machine (e.g. bubblewrap is missing)."""


class ResetNeeded(NbdojoError, RuntimeError):
    """`step()` was called before `reset()` (or after `close()`)."""


class InvalidActionError(NbdojoError, ValueError):
    """An action could not be parsed; the message lists what is valid."""


class AgentError(NbdojoError):
    """An agent failed in a way the episode cannot recover from (e.g. no server reachable)."""


class MissingExtraError(NbdojoError, ImportError):
    """An optional integration's package is not installed; the message names the extra that brings it."""
