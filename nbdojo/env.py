"""`DojoEnv`: a Gymnasium environment whose actions are notebook cells in one persistent kernel."""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import gymnasium as gym

from nbdojo import briefing, grading, records
from nbdojo.grading import rewards
from nbdojo.actions import (
    Action, ExecuteCode, GetHistory, RequestInfo, RestartKernel, Submit, Validate, parse_action,
)
from nbdojo.competitions import CompetitionData, CompetitionSpec, get_competition, is_prepared, load, prepare
from nbdojo.errors import InvalidActionError, KernelStartError, ResetNeeded, SubmissionError
from nbdojo.kernel.agent import AgentKernel
from nbdojo.kernel.pool import KernelKey, KernelPool
from nbdojo.budget import Budget
from nbdojo.limits import Limits
from nbdojo.kernel.gpus import checked_gpus
from nbdojo.kernel.session import CellResult
from nbdojo.kernel.toolbox import find_toolbox
from nbdojo.observation import render_cell, truncate_middle
from nbdojo.runstate import host_record
from nbdojo.spaces import ActionSpace, TextObservation
from nbdojo.trajectory import SETUP_SOURCE, Trajectory, notebook_identity, parameters_source

log = logging.getLogger(__name__)

SUBMISSION_FILE = "submission.csv"


class DojoEnv(gym.Env[str, dict]):
    """One competition, one kernel per episode, one notebook per episode.

    `reset()` starts a kernel and a trajectory notebook; `step(action)` runs one
    action; `close()` (idempotent) shuts the kernel down and finalises the notebook.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self, competition: str | CompetitionSpec, *, out_dir: str | Path = "runs", limits: Limits | None = None,
        agent: str = "api", model: str | None = None, kernel_name: str = "nbdojo",
        sandbox: bool = True, gpus: list[int] | None = None, render_mode: str | None = None,
        kernel_env: str | Path | None = None, pool: KernelPool | None = None, pool_size: int = 0,
        reward: str = rewards.DEFAULT_MODE, allow_interrupt: bool = False, **limit_overrides: Any,
    ):
        """`sandbox=False` runs the kernel unconfined (it can read the private answers): only for
        debugging; it is logged loudly and recorded in the notebook. `gpus=None` gives the kernel
        every GPU of the machine, `gpus=[]` none. `kernel_env` is the Python environment the
        kernel runs in (the agent's toolbox, see nbdojo.kernel.toolbox; default: the built one).
        `pool_size=N` keeps N kernels started ahead (a pool the env owns and closes), `pool=` uses a
        `KernelPool` shared with other envs: `reset()` then takes a warm kernel when one fits.
        `reward` is the reward mode: "final", "public_delta" or "shaped" (see nbdojo.grading.rewards).
        `allow_interrupt`: a person watching (`nbdojo watch`) may interrupt the running cell; recorded in the
        notebook's metadata, where the watch server reads it (default: only the episode interrupts its kernel)."""
        self.reward_mode = rewards.check_mode(reward)
        self.competition = get_competition(competition) if isinstance(competition, str) else competition
        self.limits = replace(limits or Limits(), **limit_overrides)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, not {render_mode!r}.")
        self.render_mode = render_mode
        self.out_dir = Path(out_dir).resolve()  # the sandbox and the parameters cell need absolute paths
        self.agent_name, self.model, self.kernel_name = agent, model, kernel_name
        checked_gpus(gpus)  # a missing GPU index fails here, before any run folder is made
        self.sandbox, self.gpus = sandbox, gpus
        self.allow_interrupt = bool(allow_interrupt)
        self.toolbox = find_toolbox(kernel_env)  # no usable toolbox: a clear ToolboxError now, not at reset
        if sandbox:
            from nbdojo.kernel.sandbox import bwrap_path

            bwrap_path()  # no bubblewrap: a clear SandboxError now, not at the first reset
        else:
            log.warning("nbdojo: the kernel runs WITHOUT a sandbox: agent code can read the private answers, "
                        "the network and the host's files. Use this for debugging only.")
        self.observation_space = TextObservation(max_length=1_000_000, min_length=0)
        self.action_space = ActionSpace()
        self._data: CompetitionData | None = None
        self._kernel: AgentKernel | None = None
        self._owns_pool = pool is None  # one made here from pool_size is closed with the env
        self._pool = pool if pool is not None else KernelPool(pool_size) if pool_size else None
        self.trajectory: Trajectory | None = None
        self.budget = Budget(self.limits)  # what the episode has used; a new one at every reset
        self._closed = False
        self._episode_over = True
        self._last_obs = ""

    # ----- episode lifecycle -------------------------------------------------------------

    @property
    def data(self) -> CompetitionData:
        """The prepared data; prepared on first use (offline, deterministic)."""
        if self._data is None:
            self._data = load(self.competition) if is_prepared(self.competition) else prepare(self.competition)
        return self._data

    @property
    def run_dir(self) -> Path | None:
        return self.trajectory.path.parent if self.trajectory else None

    @property
    def workspace(self) -> Path | None:
        return self.run_dir / "workspace" if self.run_dir else None

    @property
    def notebook_path(self) -> Path | None:
        return self.trajectory.path if self.trajectory else None

    @property
    def kernel(self) -> AgentKernel | None:
        return self._kernel

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, not {seed!r}.")
        super().reset(seed=seed)
        options = dict(options or {})
        self._end_episode()
        self._closed = False
        self.agent_name = options.pop("agent", self.agent_name)
        self.model = options.pop("model", self.model)
        participant = options.pop("participant", None)  # the author of a person's notebook an agent replays
        if options:
            raise ValueError(f"Unknown reset options: {', '.join(sorted(options))} (known: agent, model, participant).")
        data = self.data
        run = f"s{seed}" if seed is not None else f"r{secrets.token_hex(3)}"  # a seed, or a short random id
        key = KernelKey.for_episode(out_dir=self.out_dir, competition=self.competition.id, agent=self.agent_name,
                                    readonly=[data.public_dir], limits=self.limits, sandbox=self.sandbox, gpus=self.gpus,
                                    kernel_name=self.kernel_name, kernel_env=self.toolbox.path)
        warm = self._pool.take(key) if self._pool is not None else None  # a started kernel and its run folder
        run_dir, kernel = warm or (key.run_folder(run), None)
        workspace = run_dir / "workspace"
        self._seed = seed
        self.budget = Budget(self.limits)
        self._rewards = rewards.EpisodeRewards(self.reward_mode)
        self._history: list[dict[str, Any]] = []
        self._final: dict[str, Any] | None = None
        self._terminated = self._truncated = False
        self._params = parameters_source(
            data_dir=str(data.public_dir), workspace=str(workspace), submission_path=SUBMISSION_FILE, seed=seed,
        )
        self.trajectory = Trajectory(
            run_dir / "trajectory.ipynb",
            {
                "competition": self.competition.id, "agent": self.agent_name, "model": self.model, "seed": seed,
                "limits": asdict(self.limits), "kernel": self.kernel_name, "data_dir": str(data.public_dir),
                "workspace": str(workspace), "sandbox": self.sandbox,
                "toolbox": self.toolbox.main_packages(), "reward": self._rewards.record(),
                "host": host_record(),  # while ended is null: live if this process runs, else abandoned
                **({"participant": str(participant)} if participant else {}),
                **({"allow_interrupt": True} if self.allow_interrupt else {}),
            },
            title=self.competition.title,
        )
        records.write_run_record(notebook=self.trajectory.path, competition=self.competition.id, workspace=workspace,
                                 limits=self.limits, agent=self.agent_name, model=self.model, sandbox=self.sandbox)
        self._kernel = kernel or key.kernel(run_dir)
        try:
            if kernel is None:
                self._kernel.start()
            self.trajectory.meta["caps"] = self._kernel.caps_mode  # how memory and process caps are held
            for source, tags in ((self._params, ("parameters",)), (SETUP_SOURCE, ())):
                result = self._kernel.execute(source, timeout=60)
                self._record_cell(source, result, step=0, action="setup", tags=tags)
                if result.status != "ok":
                    raise KernelStartError(f"The kernel could not run nbdojo's setup cell: {result.error}")
        except BaseException:
            self._finish({"error": "kernel setup failed"})
            self.trajectory.save()
            self._kernel.shutdown()
            self._kernel = None
            raise
        self._episode_over = False
        obs = briefing.welcome(self.competition.description, self.budget.summary())
        info = self._info(action="reset", status="ok")
        # what the agent got first, as each later step's cell keeps its own (see nbdojo.tools.export)
        self.trajectory.meta["reset_observation"] = obs
        self.trajectory.meta["reset_info"] = {"spec": info["spec"], "budget": info["budget"]}
        self.trajectory.save()
        self._last_obs = obs
        return obs, info

    def step(self, action: Action | dict[str, Any] | str) -> tuple[str, float, bool, bool, dict]:
        if self._closed or self.trajectory is None:
            raise ResetNeeded("Call reset() before step(): no episode is running.")
        if self._episode_over:
            raise ResetNeeded("The episode has ended (submitted or out of budget); call reset() to start another.")
        step = self.budget.count_step()
        reward = 0.0
        extra: dict[str, Any] = {}
        args: dict[str, Any] = {}  # the action's arguments, but its code and thought (they have cells)
        try:
            try:
                act = parse_action(action)
            except InvalidActionError as exc:
                obs, status, name = f"[step {step}] Invalid action. {exc}", "invalid", "invalid"
                self.trajectory.add_markdown(
                    f"**Invalid action** (step {step}): {exc}", step=step, action="invalid", status="invalid",
                    raw=_capped_json(action), **self.budget.take_usage(),
                )
            else:
                name = act.name
                if act.thought:
                    self.trajectory.add_markdown(act.thought, step=step, action="thought")
                obs, status, reward, extra = self._dispatch_safely(act, step)
                args = {k: v for k, v in asdict(act).items() if k not in ("code", "thought") and v is not None}
            self._history.append({"step": step, "action": name, "status": status, "summary": extra.get("summary", "")})
            if not self._terminated:
                reason = self.budget.exhausted()
                if reason:
                    self._truncated = True
                    reward = self._finish_truncated(step, reason)
                    obs += f"\n\nThe episode is over: {reason}. " + self._final_text()
            reward = self._rewards.step(status=status, final=reward,
                                        public_normalized=extra.get("public_normalized_score"))
            self.trajectory.meta["reward"] = self._rewards.record()
            budget = self.budget.left()  # one reading: the notebook keeps what `info` tells the agent
            self.trajectory.record_step(step, name, observation=obs, args=args, budget=budget, reward=reward)
        finally:
            self._save_progress()
        self._last_obs = obs
        info = self._info(action=name, status=status, budget=budget, **extra)
        return obs, float(reward), self._terminated, self._truncated, info

    def close(self) -> None:
        """Shut the kernel down and finalise the notebook; safe to call any number of times."""
        if self._closed:
            return
        self._closed = True
        try:
            self._end_episode()
        finally:
            if self._owns_pool and self._pool is not None:
                self._pool.close()

    def render(self) -> str | None:
        return self._last_obs if self.render_mode == "ansi" else None

    def record_usage(self, prompt_tokens: int = 0, completion_tokens: int = 0, cost: float = 0.0) -> None:
        """Account an agent's LLM usage; attached to the next step's cells and to the episode totals."""
        self.budget.record_usage(prompt_tokens, completion_tokens, cost)

    @property
    def usage(self) -> dict[str, Any]:
        return dict(self.budget.usage)

    # ----- actions -----------------------------------------------------------------------

    def _dispatch_safely(self, act: Action, step: int) -> tuple[str, str, float, dict[str, Any]]:
        """`step` never raises on what an agent sends or does: a failure is an observation, the episode goes on."""
        try:
            return self._dispatch(act, step)
        except Exception as exc:  # noqa: BLE001 - logged in full; the agent gets one line
            log.exception("step %d (%s) failed inside nbdojo", step, act.name)
            detail = truncate_middle(f"{type(exc).__name__}: {exc}", 300).replace("\n", " ")
            text = f"[step {step}] nbdojo could not carry out {act.name} ({detail}). The episode goes on."
            self.trajectory.add_markdown(f"**{act.name}** failed inside nbdojo\n\n{text}", step=step,
                                         action=act.name, status="error", **self.budget.take_usage())
            return text, "error", 0.0, {}

    def _dispatch(self, act: Action, step: int) -> tuple[str, str, float, dict[str, Any]]:
        if isinstance(act, ExecuteCode):
            return self._execute(act, step)
        if isinstance(act, RequestInfo):
            hardware = briefing.hardware(memory_cap=self.limits.memory_bytes, gpu_indices=self._kernel.gpus,
                                         sandboxed=self.sandbox, packages=self.toolbox.main_packages())
            text = briefing.answer(act.topic, spec=self.competition, public_dir=self.data.public_dir,
                                   budget_left=self.budget.left(), hardware_text=hardware)
            text = truncate_middle(text, self.limits.observation_chars * 3)
            self.trajectory.add_markdown(f"**request_info** `{act.topic}`\n\n{text}", step=step, action=act.name,
                                         status="ok", topic=act.topic, **self.budget.take_usage())
            return text, "ok", 0.0, {"summary": act.topic}
        if isinstance(act, Validate):
            return self._validate(act, step)
        if isinstance(act, Submit):
            return self._submit(act, step)
        if isinstance(act, RestartKernel):
            self._kernel.restart()
            self._rerun_setup()
            self.trajectory.add_markdown(
                "**restart_kernel**: the kernel was restarted; all state is lost. "
                "The parameters and setup cells were run again.", step=step, action=act.name, status="ok",
                **self.budget.take_usage(),
            )
            return f"[step {step}] Kernel restarted: every variable is gone (DATA_DIR, WORKSPACE, " \
                   "SUBMISSION_PATH and SEED are set again).", "ok", 0.0, {}
        if isinstance(act, GetHistory):
            text = self._history_text()
            self.trajectory.add_markdown(f"**get_history**\n\n```\n{text}\n```", step=step, action=act.name,
                                         status="ok", **self.budget.take_usage())
            return text, "ok", 0.0, {}
        raise AssertionError(f"unhandled action {act!r}")  # parse_action only yields the types above

    def _execute(self, act: ExecuteCode, step: int) -> tuple[str, str, float, dict[str, Any]]:
        with self.trajectory.running_cell(act.code, step=step, action=act.name) as running:  # in the notebook as it runs
            result = self._kernel.execute(act.code, timeout=self.budget.cell_timeout(), progress=running.progress)
            self._record_cell(act.code, result, step=step, action=act.name, **self.budget.take_usage())
        if result.restarted:
            self._rerun_setup()
        obs = render_cell(step=step, status=result.status, duration_s=result.duration_s, outputs=result.outputs,
                          execution_count=result.execution_count, restarted=result.restarted,
                          limit=self.limits.observation_chars, error=result.error)
        over = self._kernel.disk_overuse(self.limits.disk_bytes, after_cell=True)
        if over:
            obs += f"\n{over}"
        first_line = next((ln for ln in act.code.splitlines() if ln.strip()), "")[:80]
        extra = {
            "summary": first_line, "outputs": [dict(o) for o in result.outputs], "duration_s": result.duration_s,
            "execution_count": result.execution_count, "restarted": result.restarted, "error": result.error,
        }
        return obs, result.status, 0.0, extra

    def _grade(self, path: str, part: str | None) -> grading.Grade | None:
        """The workspace's file through the one trusted reader (no links, no FIFOs, a size cap, one copy)."""
        return grading.grade_workspace_file(self.data, self.workspace, path, part=part)

    def _validate(self, act: Validate, step: int) -> tuple[str, str, float, dict[str, Any]]:
        try:
            over = self._kernel.disk_overuse(self.limits.disk_bytes)
            if over:
                raise SubmissionError(over)
            public = self._grade(act.path, "public" if self.budget.can_score else None)
        except SubmissionError as exc:
            text, status, extra = f"[step {step}] The submission is not valid: {exc}", "invalid", {}
        else:
            if public is not None:
                left = self.budget.use_scoring()
                text = (f"[step {step}] The submission is valid. Public score ({public.metric}): "
                        f"{public.score:.6g}. {left} public scorings left.")
                extra = {"public_score": public.score}
                if math.isfinite(public.normalized_score):
                    extra["public_normalized_score"] = public.normalized_score
            else:
                text = f"[step {step}] The submission is valid. (No public scorings left: the format was checked only.)"
                extra = {}
            status = "ok"
        self.trajectory.add_markdown(f"**validate** `{act.path}`\n\n{text}", step=step, action=act.name,
                                     status=status, **extra, **self.budget.take_usage())
        return text, status, 0.0, extra

    def _submit(self, act: Validate | Submit, step: int) -> tuple[str, str, float, dict[str, Any]]:
        try:
            over = self._kernel.disk_overuse(self.limits.disk_bytes)
            if over:
                raise SubmissionError(over)
            grade = self._grade(act.path, "private")
        except SubmissionError as exc:
            text = (f"[step {step}] The submission was not accepted: {exc} "
                    "The episode goes on: fix the file and submit again.")
            self.trajectory.add_markdown(f"**submit** `{act.path}`\n\n{text}", step=step, action=act.name,
                                         status="invalid", **self.budget.take_usage())
            return text, "invalid", 0.0, {}
        self.trajectory.add_markdown(f"**submit** `{act.path}`: graded on the private answers.", step=step,
                                     action=act.name, status="ok", **self.budget.take_usage())
        self._set_final(grade, step, how="submitted")
        self._terminated = True
        return f"[step {step}] Submitted.\n{grade.report()}", "ok", grade.human_rank, {"grade": grade.to_dict()}

    # ----- helpers -----------------------------------------------------------------------

    def _record_cell(self, source: str, result: CellResult, *, step: int, action: str,
                     tags: tuple[str, ...] = (), **extra: Any) -> None:
        meta = {"restarted": result.restarted} if result.restarted else {}
        if result.truncated_bytes:
            meta["truncated_bytes"] = result.truncated_bytes
        self.trajectory.add_code(
            source, step=step, action=action, status=result.status, started=result.started,
            duration_s=result.duration_s, outputs=result.outputs, execution_count=result.execution_count,
            tags=tags, **meta, **extra,
        )

    def _rerun_setup(self) -> None:
        """After a restart, define the parameters again so the agent's next cell finds them."""
        for source in (self._params, SETUP_SOURCE):
            result = self._kernel.execute(source, timeout=60)
            if result.status != "ok":
                log.warning("setup after restart failed: %s", result.error)

    def _set_final(self, grade: grading.Grade | None, step: int, *, how: str) -> None:
        if grade is None:
            report = "No valid submission was made: nothing to grade."
            self._final = {"how": how, "score": None, "position": None, "human_rank": 0.0, "medal": "none"}
        else:
            report = grade.report()
            self._final = {"how": how, **grade.to_dict()}
        self.trajectory.add_scorer(self.competition.id, report, step=step, grade=self._final)

    def _finish_truncated(self, step: int, reason: str) -> float:
        """Out of budget: grade whatever valid submission the workspace holds, as MLE-bench does."""
        try:
            grade = self._grade(SUBMISSION_FILE, "private")
        except SubmissionError:
            grade = None
        self.trajectory.add_markdown(f"**Episode truncated**: {reason}.", step=step, action="truncated",
                                     status="truncated")
        self._set_final(grade, step, how=f"truncated: {reason}")
        return grade.human_rank if grade else 0.0

    def _final_text(self) -> str:
        final = self._final or {}
        if final.get("score") is None:
            return "No valid submission.csv was found: score 0."
        return f"The workspace's submission.csv was graded: score {final['score']:.6g}, HumanRank {final['human_rank']:.1%}."

    def _history_text(self) -> str:
        if not self._history:
            return "No steps yet."
        return "\n".join(f"{h['step']:>3}  {h['action']:<14} {h['status']:<8} {h['summary']}" for h in self._history)

    def _info(self, *, action: str, status: str, budget: dict[str, Any] | None = None,
              **extra: Any) -> dict[str, Any]:
        info: dict[str, Any] = {
            "competition": self.competition.id, "step": self.budget.steps, "action": action, "status": status,
            "budget": budget if budget is not None else self.budget.left(), "usage": dict(self.budget.usage),
        }
        if action == "reset":
            info["spec"] = self.competition.agent_view()
            info["paths"] = {"data_dir": str(self.data.public_dir), "workspace": str(self.workspace),
                             "notebook": str(self.notebook_path)}
        if self._final is not None:
            info["final"] = dict(self._final)
        info.update(extra)
        return info

    def _finish(self, final: dict[str, Any] | None) -> None:
        """End the notebook with its signed grade, and sign its rewards and transcript too (the grade's signature
        covers only `final` and the code; readers believe rewards and transcripts only if sealed: grading.rewards)."""
        self.trajectory.finish(final)
        record = self.trajectory.meta.get("reward")
        if isinstance(record, dict):
            nb = self.trajectory.nb
            self.trajectory.meta["reward"] = rewards.seal(record, self.trajectory.meta, nb.cells, notebook_identity(nb))

    def _save_progress(self) -> None:
        self.trajectory.set_usage(self.budget.usage)
        if self._terminated or self._truncated:
            self._finish(self._final)
            self._episode_over = True
        self.trajectory.save()

    def _end_episode(self) -> None:
        """Stop the kernel; if the episode was cut short (no submit), mark it in the notebook."""
        try:
            if self.trajectory is not None and not self._episode_over:
                self.trajectory.add_markdown("**Episode closed** before a submission.", step=self.budget.steps,
                                             action="closed", status="closed")
                self.trajectory.set_usage(self.budget.usage)
                self._finish(None)
                self.trajectory.save()
        finally:
            self._episode_over = True
            kernel, self._kernel = self._kernel, None
            if kernel is not None and self._pool is not None and not self._closed:
                self._pool.retire(kernel)  # shut down in the background: the next reset need not wait
            elif kernel is not None:
                kernel.shutdown()

    def __del__(self) -> None:
        try:
            if self._kernel is not None:
                self._kernel.shutdown()
        except Exception:
            pass


def _capped_json(value: Any, limit: int = 10_000) -> Any:
    """An invalid action as recorded in the notebook: its JSON form, or a cut repr of it when large."""
    value = _jsonable(value)
    text = repr(value)
    return value if len(text) <= limit else truncate_middle(text, limit)


def _jsonable(value: Any, depth: int = 0) -> Any:
    if depth > 20:
        return "…"
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # nbformat's JSON has no NaN or inf
    if isinstance(value, str):
        return value[:10_000]
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 63:
        return f"<an integer of {value.bit_length():,} bits>"
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k)[:200]: _jsonable(v, depth + 1) for k, v in list(value.items())[:100]}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in list(value)[:100]]
    return object.__repr__(value)  # never call an agent object's own __repr__
