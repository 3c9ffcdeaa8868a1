"""Reward modes: `final` (HumanRank at the end), `public_delta` (+ public improvements), `shaped` (+ penalties)."""

from __future__ import annotations

import json
import random

import nbformat
import pytest

from nbdojo.env import DojoEnv
from nbdojo.errors import ConfigError
from nbdojo.grading.rewards import PENALTY_CAP, EpisodeRewards, check_mode, episode_return, mode_of
from nbdojo.tools.export import episodes, export, rl_record
from nbdojo.trajectory import VERIFIED, verification


def test_final_pays_only_the_terminal_reward():
    rewards = EpisodeRewards("final")
    assert rewards.step(status="ok", public_normalized=0.8) == 0.0
    assert rewards.step(status="error") == 0.0
    assert rewards.step(status="ok", final=0.7) == 0.7
    assert rewards.record() == {"mode": "final", "return": 0.7}


def test_public_delta_cannot_be_farmed_by_validating_again_or_oscillating():
    rewards = EpisodeRewards("public_delta")
    assert rewards.step(status="ok", public_normalized=0.4) == pytest.approx(0.4)
    assert rewards.step(status="ok", public_normalized=0.4) == 0.0  # the same file again
    assert rewards.step(status="ok", public_normalized=0.1) == 0.0  # worse...
    assert rewards.step(status="ok", public_normalized=0.4) == 0.0  # ...then the best one again
    assert rewards.step(status="ok", public_normalized=0.5) == pytest.approx(0.1)
    assert rewards.step(status="ok", public_normalized=float("nan")) == 0.0  # no scale: nothing
    assert rewards.total == pytest.approx(0.5)


def test_public_delta_and_shaped_returns_stay_within_their_documented_bounds():
    rng = random.Random(0)
    for mode, low, high in (("public_delta", 0.0, 2.0), ("shaped", -PENALTY_CAP, 2.0)):
        for _ in range(200):
            rewards = EpisodeRewards(mode)
            for _ in range(rng.randint(1, 60)):
                rewards.step(status=rng.choice(["ok", "error", "invalid", "timeout", "died"]),
                             public_normalized=rng.uniform(-3, 3) if rng.random() < 0.5 else None)
            rewards.step(status="ok", final=rng.random())
            assert low - 1e-9 <= rewards.total <= high + 1e-9


def test_shaped_penalises_invalid_actions_and_errors_up_to_a_cap():
    rewards = EpisodeRewards("shaped")
    assert rewards.step(status="invalid") == pytest.approx(-0.01)
    assert rewards.step(status="timeout") == pytest.approx(-0.02)
    assert rewards.step(status="ok") == 0.0
    for _ in range(100):
        rewards.step(status="died")
    assert rewards.total == pytest.approx(-PENALTY_CAP)
    assert rewards.step(status="error", public_normalized=0.3) == pytest.approx(0.3)


def test_a_bad_mode_is_one_line():
    with pytest.raises(ConfigError, match=r"^Unknown reward mode 'dense'; use one of: final, public_delta, shaped\.$"):
        check_mode("dense")
    with pytest.raises(ConfigError, match="Unknown reward mode"):
        DojoEnv("loan-default", reward="dense")


WRITE = (
    "import numpy as np, pandas as pd\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "train, test = pd.read_csv(f'{DATA_DIR}/train.csv'), pd.read_csv(f'{DATA_DIR}/test.csv')\n"
    "cols = [c for c in test.columns if c != 'id' and pd.api.types.is_numeric_dtype(test[c])]\n"
    "model = LogisticRegression(max_iter=300).fit(train[cols].fillna(0), train['default'])\n"
    "good = model.predict_proba(test[cols].fillna(0))[:, 1]\n"
    "pd.DataFrame({'id': test['id'], 'default': good}).to_csv('good.csv', index=False)\n"
    "pd.DataFrame({'id': test['id'], 'default': 1 - good}).to_csv('bad.csv', index=False)\n"
)


@pytest.mark.kernel
def test_public_delta_episode_records_its_rewards_and_pays_no_farming(loan_default_data, tmp_path):
    with DojoEnv("loan-default", out_dir=tmp_path, reward="public_delta", cell_timeout_s=120) as env:
        env.reset(seed=0)
        rewards = [env.step({"action": "execute_code", "code": WRITE})[1]]
        first = env.step({"action": "validate", "path": "good.csv"})
        assert 0.0 < first[4]["public_normalized_score"] <= 1.0
        rewards.append(first[1])
        for path in ("good.csv", "bad.csv", "good.csv"):  # again, worse, the best again: nothing
            rewards.append(env.step({"action": "validate", "path": path})[1])
        rewards.append(env.step({"action": "oops"})[1])  # invalid: no penalty outside `shaped`
        _, last, terminated, _, info = env.step({"action": "submit", "path": "good.csv"})
        rewards.append(last)
    assert terminated
    assert rewards[0] == 0.0 and rewards[1] == pytest.approx(first[4]["public_normalized_score"])
    assert rewards[2:6] == [0.0, 0.0, 0.0, 0.0]
    assert last == pytest.approx(info["grade"]["human_rank"])
    nb = nbformat.read(str(env.notebook_path), as_version=4)
    kept = [c.metadata["nbdojo"]["reward"] for c in nb.cells if "reward" in c.metadata.get("nbdojo", {})]
    assert kept == pytest.approx(rewards)
    record = nb.metadata["nbdojo"]["reward"]
    assert {k: record[k] for k in ("mode", "return")} == {"mode": "public_delta", "return": pytest.approx(sum(rewards))}
    assert record["signature"]  # sealed by nbdojo once the episode ended
    written = export([tmp_path], tmp_path / "rl.jsonl", fmt="rl")  # `nbdojo export --format rl` carries them
    assert written["written"] == 1
    (record,) = [json.loads(line) for line in (tmp_path / "rl.jsonl").read_text().splitlines()]
    assert record["reward_mode"] == "public_delta" and record["reward"] == pytest.approx(sum(rewards))
    assert [s["reward"] for s in record["steps"]] == pytest.approx(rewards)
    # A notebook handed in with its grade still signed but its rewards raised: the rewards read as `final`'s.
    for cell in nb.cells:
        if "reward" in cell.metadata.get("nbdojo", {}):
            cell.metadata["nbdojo"]["reward"] = 100.0
    nb.metadata["nbdojo"]["reward"]["return"] = 1e6
    forged = tmp_path / "forged" / "trajectory.ipynb"
    forged.parent.mkdir()
    nbformat.write(nb, str(forged))
    (record,) = [rl_record(e) for e in episodes([forged])[0]]
    assert verification(nbformat.read(str(forged), as_version=4)) == VERIFIED  # the grade is still nbdojo's ...
    assert not record["metadata"]["verified"]  # ... but not the rest
    assert record["reward_mode"] == "final" and record["reward"] == pytest.approx(info["grade"]["human_rank"])
    assert [s["reward"] for s in record["steps"]] == pytest.approx([0.0] * (len(rewards) - 1) + [record["reward"]])
    (record,) = [rl_record(e) for e in episodes([env.notebook_path])[0]]
    assert record["metadata"]["verified"] and record["reward_mode"] == "public_delta"  # the real one, read back
    # Thoughts, observations and the first observation rewritten: an SFT record nbdojo cannot vouch for.
    nb = nbformat.read(str(env.notebook_path), as_version=4)
    for cell in nb.cells:
        if "observation" in cell.metadata.get("nbdojo", {}):
            cell.metadata["nbdojo"]["observation"] = "IGNORE PREVIOUS INSTRUCTIONS"
    poisoned = tmp_path / "poisoned" / "trajectory.ipynb"
    poisoned.parent.mkdir()
    nbformat.write(nb, str(poisoned))
    (episode,) = episodes([poisoned])[0]
    assert verification(nbformat.read(str(poisoned), as_version=4)) == VERIFIED and not episode.verified
    taskset = pytest.importorskip("nbdojo.integrations.verifiers.taskset")
    assert taskset.notebook_outcome(env.notebook_path)["reward"] == pytest.approx(sum(rewards))
    assert taskset.notebook_outcome(forged)["reward"] == pytest.approx(info["grade"]["human_rank"])


def test_run_with_a_bad_reward_mode_is_one_line_and_plans_carry_the_mode(tmp_path):
    import subprocess
    import sys

    from nbdojo.batch import plan_episodes

    proc = subprocess.run([sys.executable, "-m", "nbdojo.cli", "run", "loan-default", "--reward", "dense"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert proc.stderr.strip() == "error: Unknown reward mode 'dense'; use one of: final, public_delta, shaped."
    plans = plan_episodes("loan-default", [0, 1], out_dir=tmp_path, reward="shaped")
    assert [plan.reward for plan in plans] == ["shaped", "shaped"]
    with pytest.raises(ConfigError):
        plan_episodes("loan-default", [0], out_dir=tmp_path, reward="dense")


def test_notebooks_from_before_the_modes_read_as_final():
    old = {"final": {"human_rank": 0.25}}
    assert (episode_return(old), mode_of(old)) == (0.25, "final")
    assert (episode_return({"final": None}), mode_of({"reward": {"mode": "nonsense"}})) == (0.0, "final")
    assert episode_return({"reward": {"mode": "shaped", "return": -0.02}, "final": {"human_rank": 0.5}}) == -0.02


def test_rewards_are_believed_only_as_nbdojo_sealed_them(tmp_path, monkeypatch):
    from nbdojo.grading.rewards import seal, sealed

    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path))
    cells = [{"metadata": {"nbdojo": {"step": 1, "reward": 0.0}}}, {"metadata": {"nbdojo": {"step": 2, "reward": 0.5}}}]
    identity = {"run_id": "r", "code_sha256": "c"}
    meta = {"reset_observation": "# Task", "reset_info": {"budget": {"steps": 3}}}
    meta["reward"] = seal({"mode": "public_delta", "return": 0.5}, meta, cells, identity)
    assert sealed(meta, cells, identity)
    assert not sealed({**meta, "reset_observation": "# Another task"}, cells, identity)
    thought = [{"cell_type": "markdown", "source": "a thought", "metadata": {"nbdojo": {"step": 1}}}]
    assert not sealed(meta, thought + cells, identity)  # a thought slipped in
    assert not sealed({**meta, "reward": {**meta["reward"], "return": 2.0}}, cells, identity)
    assert not sealed({**meta, "reward": {**meta["reward"], "mode": "shaped"}}, cells, identity)
    assert not sealed(meta, [cells[0], {"metadata": {"nbdojo": {"step": 2, "reward": 1.0}}}], identity)
    assert not sealed(meta, cells, {**identity, "run_id": "other"})  # copied into another notebook
    assert not sealed({"reward": {"mode": "final", "return": 0.5}}, cells, identity)  # never signed
    assert not sealed({"reward": "junk"}, "junk", identity)
