"""DojoEnv with a real kernel and the real loan-default data."""

from __future__ import annotations

import os

import gymnasium
import nbformat
import pytest
from gymnasium.utils.env_checker import check_env

import nbdojo
from nbdojo.env import DojoEnv, Limits
from nbdojo.errors import ResetNeeded, UnknownCompetitionError

pytestmark = pytest.mark.kernel

COMP = "loan-default"


@pytest.fixture
def env(loan_default_data, tmp_path):
    with DojoEnv(COMP, out_dir=tmp_path / "runs", agent="test", cell_timeout_s=30) as e:
        yield e


def code(src: str, thought: str | None = None) -> dict:
    action = {"action": "execute_code", "code": src}
    if thought:
        action["thought"] = thought
    return action


def saved(env: DojoEnv) -> nbformat.NotebookNode:
    nb = nbformat.read(str(env.notebook_path), as_version=4)
    nbformat.validate(nb)
    return nb


def step_cells(nb, action=None):
    cells = [c for c in nb.cells if c.metadata.get("nbdojo", {}).get("step")]
    return [c for c in cells if action is None or c.metadata["nbdojo"]["action"] == action]


def test_state_persists_from_step_1_to_step_5(env):
    obs, info = env.reset(seed=3)
    assert "DATA_DIR" in obs and "submission.csv" in obs
    assert info["spec"]["metric"] == "roc_auc"
    env.step(code("secret = 41"))
    env.step({"action": "request_info", "topic": "metric"})
    env.step(code("import pandas as pd; df = pd.read_csv(f'{DATA_DIR}/train.csv', nrows=3)"))
    env.step({"action": "get_history"})
    obs, reward, terminated, truncated, info = env.step(code("print(secret + 1, SEED, len(df))"))
    assert info["status"] == "ok" and info["step"] == 5
    assert "42 3 3" in obs
    assert (reward, terminated, truncated) == (0.0, False, False)
    nb = saved(env)
    last = step_cells(nb, "execute_code")[-1]
    assert last.outputs[0]["text"] == "42 3 3\n"
    assert last.execution_count is not None and last.metadata["nbdojo"]["status"] == "ok"
    assert {"step", "action", "status", "started", "duration_s"} <= set(last.metadata["nbdojo"])


def test_runaway_cell_is_interrupted_and_state_survives(env):
    env.reset()
    env.step(code("kept = 'still here'"))
    env.limits = Limits(cell_timeout_s=2)
    obs, _, terminated, truncated, info = env.step(code("while True:\n    pass"))
    assert info["status"] == "timeout" and "timeout" in obs
    assert not terminated and not truncated
    obs, *_ = env.step(code("print(kept)"))
    assert "still here" in obs
    assert step_cells(saved(env), "execute_code")[1].metadata["nbdojo"]["status"] == "timeout"


def test_dead_kernel_is_reported_restarted_and_the_episode_goes_on(env):
    env.reset()
    env.step(code("lost = 1"))
    obs, _, terminated, _, info = env.step(code("import os; os._exit(1)"))
    assert info["status"] == "died" and info["restarted"] is True
    assert "restarted" in obs and not terminated
    obs, _, _, _, info = env.step(code("print('lost' in globals(), DATA_DIR is not None)"))
    assert info["status"] == "ok" and "False True" in obs
    nb = saved(env)
    died = step_cells(nb, "execute_code")[1]
    assert died.metadata["nbdojo"]["status"] == "died" and died.metadata["nbdojo"]["restarted"] is True


def test_matplotlib_figure_lands_in_the_notebook_as_png(env):
    env.reset()
    obs, *_ = env.step(code("import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()", thought="Plot it."))
    assert "[image/png image: kept in the notebook]" in obs
    nb = saved(env)
    cell = step_cells(nb, "execute_code")[0]
    assert any("image/png" in o.get("data", {}) for o in cell.outputs)
    thought = nb.cells[nb.cells.index(cell) - 1]
    assert thought.cell_type == "markdown" and thought.source == "Plot it."


def test_malformed_actions_get_a_helpful_observation_and_cost_one_step(env):
    env.reset()
    for bad in ({"action": "dance"}, {"code": "x"}, {"action": "execute_code"}, "not json", 7):
        obs, reward, terminated, truncated, info = env.step(bad)
        assert "Invalid action" in obs and "Valid actions:" in obs and "execute_code" in obs
        assert info["status"] == "invalid" and not terminated and not truncated and reward == 0.0
    assert info["step"] == 5
    assert len(step_cells(saved(env), "invalid")) == 5


def test_step_before_reset_and_after_close_raise_named_error(loan_default_data, tmp_path):
    env = DojoEnv(COMP, out_dir=tmp_path)
    with pytest.raises(ResetNeeded):
        env.step({"action": "get_history"})
    env.reset()
    pid = env.kernel.pid
    env.close()
    env.close()  # idempotent
    with pytest.raises(ResetNeeded):
        env.step({"action": "get_history"})
    import psutil

    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    nb = saved(env)
    assert nb.cells[-1].metadata["nbdojo"]["action"] == "closed"


def test_submit_grades_ends_episode_and_appends_scorer_cell(env):
    env.reset(seed=0)
    env.step(code(
        "import pandas as pd\n"
        "test = pd.read_csv(f'{DATA_DIR}/test.csv')\n"
        "pd.DataFrame({'id': test['id'], 'default': 0.5}).to_csv(SUBMISSION_PATH, index=False)"
    ))
    obs, reward, terminated, truncated, info = env.step({"action": "validate"})
    assert info["status"] == "ok" and "Public score" in obs and info["public_score"] == pytest.approx(0.5)
    obs, reward, terminated, truncated, info = env.step({"action": "submit"})
    assert terminated and not truncated
    assert info["grade"]["score"] == pytest.approx(0.5)
    assert reward == pytest.approx(info["grade"]["human_rank"])
    with pytest.raises(ResetNeeded):
        env.step({"action": "get_history"})
    nb = saved(env)
    scorer = nb.cells[-1]
    assert "nbdojo-scorer" in scorer.metadata["tags"]
    assert "HumanRank" in scorer.outputs[0]["text"]
    assert nb.metadata["nbdojo"]["final"]["score"] == pytest.approx(0.5)
    assert nb.metadata["nbdojo"]["ended"]


def test_invalid_submissions_do_not_end_the_episode(env, tmp_path):
    env.reset()
    obs, _, terminated, _, info = env.step({"action": "submit"})
    assert not terminated and info["status"] == "invalid" and "not accepted" in obs
    obs, *_ = env.step({"action": "validate", "path": "../../etc/passwd"})
    assert "outside the workspace" in obs
    # A link inside the workspace that points out of it is refused too: the grader is trusted.
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("id,default\n")
    env.step(code(f"import os; os.symlink({str(outside)!r}, 'link.csv')"))
    obs, _, terminated, _, _ = env.step({"action": "submit", "path": "link.csv"})
    assert "outside the workspace" in obs and not terminated


def test_step_budget_truncates_and_grades_the_workspace_file(loan_default_data, tmp_path):
    with DojoEnv(COMP, out_dir=tmp_path, max_steps=2) as env:
        env.reset()
        _, _, _, truncated, _ = env.step(code(
            "import pandas as pd\n"
            "test = pd.read_csv(f'{DATA_DIR}/test.csv')\n"
            "pd.DataFrame({'id': test['id'], 'default': 0.5}).to_csv(SUBMISSION_PATH, index=False)"
        ))
        assert not truncated
        obs, reward, terminated, truncated, info = env.step({"action": "get_history"})
        assert truncated and not terminated
        assert "step budget" in obs and info["final"]["score"] == pytest.approx(0.5)
        nb = saved(env)
        assert "nbdojo-scorer" in nb.cells[-1].metadata["tags"]


def test_restart_kernel_action_clears_state_and_is_recorded(env):
    env.reset()
    env.step(code("gone = 1"))
    env.step({"action": "restart_kernel", "thought": "Start clean."})
    obs, *_ = env.step(code("print('gone' in globals(), os.getcwd() == WORKSPACE)"))
    assert "False True" in obs
    nb = saved(env)
    assert step_cells(nb, "restart_kernel")[0].cell_type == "markdown"


def test_notebook_is_on_disk_and_valid_after_every_step(env):
    env.reset()
    nb = saved(env)
    assert "parameters" in nb.cells[1].metadata["tags"]
    assert nb.metadata["nbdojo"]["competition"] == COMP
    for i in range(3):
        env.step(code(f"v{i} = {i}"))
        assert len(step_cells(saved(env), "execute_code")) == i + 1
    assert not list(env.run_dir.glob(".*.tmp"))


def test_check_env_passes(loan_default_data, tmp_path):
    env = nbdojo.make(COMP, out_dir=tmp_path)
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()


def test_gymnasium_make_and_unknown_id(loan_default_data, tmp_path):
    env = gymnasium.make(f"nbdojo/{COMP}-v0", out_dir=tmp_path)
    try:
        obs, info = env.reset()
        assert isinstance(obs, str) and info["competition"] == COMP
    finally:
        env.close()
    with pytest.raises(UnknownCompetitionError, match="Did you mean 'loan-default'"):
        nbdojo.make("loan-defualt")


def test_kernel_cwd_is_the_workspace_and_private_dir_is_not_in_parameters(env):
    obs, info = env.reset()
    out, *_ = env.step(code("import os; print(os.getcwd())"))
    assert info["paths"]["workspace"] in out
    nb = saved(env)
    assert "private" not in nb.cells[1].source
    assert os.path.isdir(info["paths"]["data_dir"])


def test_a_relative_out_dir_works_as_make_demo_passes_it(loan_default_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with DojoEnv(COMP, out_dir="runs") as env:
        obs, info = env.reset()
        assert os.path.isabs(info["paths"]["workspace"])
        obs, *_ = env.step(code("print(os.getcwd() == WORKSPACE)"))
        assert "True" in obs
    assert env.notebook_path.is_relative_to(tmp_path / "runs")


def test_the_notebook_keeps_exactly_what_the_agent_saw(env):
    """Each step's cell holds the observation returned by step() and the action's arguments; the notebook
    metadata holds the reset observation: enough to rebuild the agent's side of the episode."""
    obs0, _ = env.reset()
    actions = [
        {"action": "request_info", "topic": "metric", "thought": "What is scored?"},
        code("1 / 0", thought="This will fail."),
        code("print('x' * 20_000)"),  # truncated in the observation, whole in the outputs
        {"action": "nonsense"},
        {"action": "validate", "path": "nothing.csv"},
        {"action": "get_history"},
    ]
    seen = [env.step(a)[0] for a in actions]
    nb = saved(env)
    assert nb.metadata["nbdojo"]["reset_observation"] == obs0
    kept = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbdojo", {})
        if "observation" in meta:
            assert meta["step"] not in kept
            kept[meta["step"]] = meta
    assert [kept[i + 1]["observation"] for i in range(len(actions))] == seen
    assert kept[1]["args"] == {"topic": "metric"} and kept[5]["args"] == {"path": "nothing.csv"}
    assert "args" not in kept[2] and kept[2]["action"] == "execute_code"
    assert kept[4]["action"] == "invalid"
    assert len(seen[2]) < 20_000 < len("".join(o.get("text", "") for o in step_cells(nb, "execute_code")[1].outputs))


def test_info_carries_the_step_summary_the_live_table_shows(env):
    env.reset()
    *_, info = env.step(code("\n\nx = 41  # the first line\nx + 1"))
    assert info["summary"] == "x = 41  # the first line"
    *_, info = env.step({"action": "request_info", "topic": "metric"})
    assert info["summary"] == "metric"
