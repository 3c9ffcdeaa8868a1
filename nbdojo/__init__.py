"""nbdojo: agents solve ML competitions by running cells in a persistent Jupyter kernel.

Names are imported lazily (PEP 562) so `import nbdojo` and the CLI start fast;
importing the package registers every competition with Gymnasium
(`gymnasium.make("nbdojo/<id>-v0")`).
"""

from __future__ import annotations

from nbdojo._package import __version__, lazy_getattr  # noqa: F401  (nbdojo.__version__)

_EXPORTS = {
    "Agent": "nbdojo.agents.base",
    "BaselineAgent": "nbdojo.agents.baseline",
    "LLMAgent": "nbdojo.agents.llm",
    "ReplayAgent": "nbdojo.agents.replay",
    "PriceTable": "nbdojo.agents.pricing",
    "make_agent": "nbdojo.agents",
    "CompetitionSpec": "nbdojo.competitions",
    "add_competition": "nbdojo.competitions.added",
    "get_competition": "nbdojo.competitions",
    "list_competitions": "nbdojo.competitions",
    "prepare": "nbdojo.competitions",
    "DojoEnv": "nbdojo.env",
    "Limits": "nbdojo.env",
    "KernelPool": "nbdojo.kernel.pool",
    "NbdojoError": "nbdojo.errors",
    "Grade": "nbdojo.grading",
    "grade": "nbdojo.grading",
    "make": "nbdojo.registration",
    "register_envs": "nbdojo.registration",
    "EpisodeResult": "nbdojo.runner",
    "run_episode": "nbdojo.runner",
    "run_episodes": "nbdojo.backends",
    "remote_env": "nbdojo.backends.remote",
    "export": "nbdojo.tools.export",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr("nbdojo", _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _register() -> None:
    from nbdojo.registration import register_envs

    register_envs()


_register()
