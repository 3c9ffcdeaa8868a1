"""The verifiers harness: nbdojo's LLM agent plays one `DojoEnv` episode per rollout.

verifiers' `Harness.launch` may run its loop in-process as long as every model call goes to the
rollout's interception endpoint: here nbdojo's `LLMAgent` (its system prompt, nbdojo's actions as
tools, its context management) asks that endpoint for each action, and `run_episode` plays it.
The episode is synchronous (kernel, grader), so it runs in its own thread; the event loop stays
free for the interception server. A cancelled rollout (a timeout, Ctrl-C) stops the episode before
its next action: the notebook is closed as interrupted and the kernel shut down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import verifiers.v1 as vf
from pydantic import Field
from verifiers.v1.runtimes import ProgramResult

from nbdojo.integrations.verifiers.settings import TASKSET_ID

__all__ = ["NbdojoHarness", "NbdojoHarnessConfig"]

log = logging.getLogger(__name__)

#: Seconds a cancelled rollout waits for its episode to close (the running cell may finish first).
STOP_GRACE_S = 60.0


class NbdojoHarnessConfig(vf.HarnessConfig):
    """`--env.agent.harness.*`: nbdojo's LLM agent."""

    id: str = TASKSET_ID
    mode: Literal["auto", "tools", "json"] = "auto"  # actions as tool calls, as JSON text, or tools else JSON
    context_tokens: int = Field(32000, ge=1024)  # conversation sent per request
    request_timeout: float = Field(600.0, gt=0)
    max_retries: int = Field(3, ge=0)


class _Stoppable:
    """An agent that raises `EpisodeInterrupted` at its next turn once `stop` is set."""

    def __init__(self, agent: Any, stop: threading.Event):
        self.agent, self.stop = agent, stop
        self.name, self.model = agent.name, agent.model

    def _check(self) -> None:
        if self.stop.is_set():
            from nbdojo.runner import EpisodeInterrupted

            raise EpisodeInterrupted("rollout cancelled")

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        self._check()
        self.agent.reset(observation, info)

    def act(self, observation: str, info: dict[str, Any]) -> dict[str, Any]:
        self._check()
        return self.agent.act(observation, info)

    def usage(self) -> dict[str, Any] | None:
        return self.agent.usage()


class _Episode:
    """One rollout's episode, played in a thread of its own; `notebook` is known once it has been reset."""

    def __init__(self, data: Any, config: NbdojoHarnessConfig, *, model: str, endpoint: str, secret: str):
        self.data, self.config = data, config
        self.model, self.endpoint, self.secret = model, endpoint, secret
        self.stop = threading.Event()
        self.env: Any = None  # the DojoEnv, once made

    @property
    def notebook(self) -> str | None:
        path = self.env.notebook_path if self.env is not None else None
        return str(path) if path else None

    def play(self) -> Any:
        from nbdojo.agents.llm import LLMAgent
        from nbdojo.env import DojoEnv
        from nbdojo.limits import Limits
        from nbdojo.runner import EpisodeInterrupted, run_episode

        config, data = self.config, self.data
        agent = LLMAgent(self.model, base_url=self.endpoint, api_key=self.secret, mode=config.mode,
                         context_tokens=config.context_tokens, request_timeout=config.request_timeout,
                         max_retries=config.max_retries)
        with DojoEnv(data.competition, out_dir=data.out_dir, limits=Limits(**data.limits), agent=agent.name,
                     model=self.model, sandbox=data.sandbox, kernel_env=data.kernel_env, reward=data.reward) as env:
            self.env = env
            try:
                return run_episode(env, _Stoppable(agent, self.stop), seed=data.seed)
            except EpisodeInterrupted:
                return None  # run_episode closed the notebook as interrupted

    async def run(self) -> Any:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbdojo-rollout")
        future = asyncio.get_running_loop().run_in_executor(executor, self.play)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            self.stop.set()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(future), STOP_GRACE_S)
            if not future.done():
                log.warning("nbdojo episode %s still runs its last cell; it closes when the cell ends", self.notebook)
            raise
        finally:
            executor.shutdown(wait=False)


class NbdojoHarness(vf.Harness[NbdojoHarnessConfig]):
    """nbdojo's LLM agent in one sandboxed nbdojo episode per rollout."""

    APPENDS_SYSTEM_PROMPT = True
    # The model's code never runs in the verifiers runtime: it runs in nbdojo's own sandboxed kernel.
    EXECUTES_CODE = False
    NEEDS_CONTAINER = False

    async def launch(self, ctx: Any, trace: vf.Trace, runtime: Any, endpoint: str, secret: str,
                     mcp_urls: dict[str, str], data: Any) -> ProgramResult:
        episode = _Episode(data, self.config, model=ctx.model, endpoint=endpoint, secret=secret)
        record = trace.info.setdefault("nbdojo", {})
        record.update({"competition": data.competition, "seed": data.seed, "reward_mode": data.reward})
        try:
            await episode.run()
        finally:
            record["notebook"] = episode.notebook
        return ProgramResult(exit_code=0, stdout="", stderr="")
