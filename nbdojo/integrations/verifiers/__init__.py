"""nbdojo as a verifiers environment (verifiers 0.4, `verifiers.v1`; `pip install 'nbdojo[verifiers]'`).

    from nbdojo.integrations.verifiers import load_environment
    env = load_environment(competitions=["loan-default"], seeds=[0, 1], reward="final", max_steps=20)

returns a `verifiers.v1.SingleAgentEnv`: one task per (competition, seed), played by nbdojo's own
harness. Each rollout owns one sandboxed nbdojo episode (a `DojoEnv`, its notebook written as in
`nbdojo run`); the model acts through nbdojo's actions as tools (`execute_code`, `validate`,
`submit`, ...), driven by nbdojo's LLM agent, and every model call goes through the verifiers
interception server, so the trace holds the conversation. The rollout's reward is the episode's
return as its signed notebook keeps it: HumanRank under the default `final` mode (see
nbdojo.grading.rewards for `public_delta` and `shaped`); the notebook's path is in
`trace.info["nbdojo"]`.
The kernel is shut down when the rollout ends, on errors and cancellation too.

The same environment from verifiers' command line: `vf-eval nbdojo-verifiers --model M
--env.taskset.competitions '["loan-default"]' --env.agent.runtime.type subprocess ...` (the taskset
id `nbdojo-verifiers` is the top-level module `nbdojo_verifiers`, which verifiers' plugin loader
imports).

verifiers is imported only when an environment is built: without the extra, one line names it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nbdojo.errors import ConfigError
from nbdojo.integrations import require
from nbdojo.integrations.verifiers.settings import TASKSET_ID, check_settings

__all__ = ["TASKSET_ID", "check_settings", "load_environment"]


def load_environment(competitions: Iterable[str] = ("loan-default",), seeds: Iterable[int] = (0,), *,
                     reward: str = "final", out_dir: str | Path = "runs", sandbox: bool = True,
                     kernel_env: str | Path | None = None, agent_mode: str = "auto", context_tokens: int = 32000,
                     **limits: Any) -> Any:
    """A verifiers environment over nbdojo episodes: one task per (competition, seed).

    `reward`: the reward mode (nbdojo.grading.rewards); `limits`: `Limits` fields for every episode (e.g.
    `max_steps=20, wall_clock_s=3600`); `out_dir`: where the notebooks go; `agent_mode`,
    `context_tokens`: nbdojo's LLM agent (tool calls or JSON actions, tokens per request). The
    competitions' data are prepared when the tasks are loaded, once, before any rollout."""
    require("verifiers.v1", "verifiers", feature="nbdojo's verifiers environment")
    from nbdojo.integrations.verifiers.harness import NbdojoHarnessConfig
    from nbdojo.integrations.verifiers.taskset import NbdojoTasksetConfig
    from nbdojo.agents.llm import MODES
    from verifiers.v1 import AgentConfig, SingleAgentEnvConfig, SubprocessConfig, load_environment as vf_load

    competitions, seeds = list(competitions), list(seeds)
    kept_limits = check_settings(competitions, seeds, reward, limits)
    if agent_mode not in MODES:
        raise ConfigError(f"agent_mode must be one of {', '.join(MODES)}, not {agent_mode!r}.")
    taskset = NbdojoTasksetConfig(
        id=TASKSET_ID, competitions=competitions, seeds=seeds, reward=reward, limits=kept_limits,
        out_dir=str(Path(out_dir).resolve()), sandbox=sandbox, kernel_env=str(kernel_env) if kernel_env else None)
    harness = NbdojoHarnessConfig(id=TASKSET_ID, mode=agent_mode, context_tokens=context_tokens)
    # The harness runs in this process (a subprocess "runtime" only gives it a scratch folder); the agent's
    # code runs in nbdojo's own sandboxed kernel.
    config = SingleAgentEnvConfig(taskset=taskset, agent=AgentConfig(harness=harness, runtime=SubprocessConfig()))
    return vf_load(config)
