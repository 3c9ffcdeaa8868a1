"""Competition specs, the registry, and building / verifying competition data."""

from __future__ import annotations

import re
import dataclasses
import json
import os
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest

from nbdojo.config import PACKAGE_ROOT
from nbdojo.competitions import (
    CompetitionData,
    CompetitionSpec,
    data_dir,
    get_competition,
    is_prepared,
    list_competitions,
    load,
    prepare,
    register_competition,
    unregister_competition,
    verify,
)
from nbdojo.errors import (
    ChecksumMismatchError,
    CompetitionNotPreparedError,
    ConfigError,
    NbdojoError,
    UnknownCompetitionError,
)

COMP = "loan-default"
SPEC_FIELDS = dict(
    id="toy", title="Toy", category="tabular", metric="rmse", higher_is_better=False, id_column="id",
    target_columns=["y"], task="regression", prediction="value", split_seed=3, source="test",
)
TOY_PREPARE = '''
import pandas as pd

def prepare(public_dir, private_dir, seed):
    ids = [f"T{i}" for i in range(20)]
    pd.DataFrame({"id": ids[:10], "x": range(10), "y": range(10)}).to_csv(public_dir / "train.csv", index=False)
    pd.DataFrame({"id": ids[10:], "x": range(10)}).to_csv(public_dir / "test.csv", index=False)
    pd.DataFrame({"id": ids[10:], "y": 0.0}).to_csv(public_dir / "sample_submission.csv", index=False)
    pd.DataFrame({"id": ids[10:], "y": range(10)}).to_csv(private_dir / "answers.csv", index=False)
'''


def toy_spec(tmp_path: Path, prepare_source: str = TOY_PREPARE, **overrides: object) -> CompetitionSpec:
    folder = tmp_path / "toy"
    folder.mkdir(exist_ok=True)
    (folder / "prepare.py").write_text(prepare_source)
    return CompetitionSpec(**{**SPEC_FIELDS, **overrides}, folder=folder)


def writable(root: Path) -> None:
    for path in root.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


# --------------------------------------------------------------------------- registry


def test_list_and_get() -> None:
    specs = list_competitions()
    assert [s.id for s in specs] == sorted(s.id for s in specs)
    spec = get_competition(COMP)
    assert spec in specs
    assert (spec.metric, spec.higher_is_better) == ("roc_auc", True)
    assert (spec.task, spec.prediction) == ("binary", "probability")
    assert spec.id_column == "id" and spec.target_columns == ("default",)
    assert spec.public_fraction == 0.3 and spec.source == "seeded synthetic generator (nbdojo)"
    assert spec.folder.name == COMP and spec.leaderboard_path == spec.folder / "leaderboard.csv"
    assert spec.extra["rows"] == {"train": 40000, "test": 75000}
    assert "ROC" in spec.description and "## Submission format" in spec.description


def test_unknown_id_suggests_close_match() -> None:
    with pytest.raises(UnknownCompetitionError) as info:
        get_competition("loan-defualt")
    assert info.value.suggestions == [COMP]
    assert "Did you mean 'loan-default'?" in str(info.value)
    assert isinstance(info.value, KeyError)


def test_register_external_competition(tmp_path: Path) -> None:
    spec = toy_spec(tmp_path)
    register_competition(spec)
    try:
        assert get_competition("toy") is spec
        assert "toy" in [s.id for s in list_competitions()]
        with pytest.raises(ConfigError, match="already registered"):
            register_competition(spec)
        register_competition(spec, replace=True)
        with pytest.raises(ConfigError, match="already registered"):
            register_competition(dataclasses.replace(get_competition(COMP), title="clash"))
    finally:
        unregister_competition("toy")
    with pytest.raises(UnknownCompetitionError):
        get_competition("toy")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"higher_is_better": True}, "higher_is_better is true but for rmse lower is better"),
        ({"metric": "roc_auc", "higher_is_better": False, "prediction": "probability"}, "higher is better"),
        ({"metric": "f2_score"}, "metric 'f2_score' is unknown"),
        ({"task": "ranking"}, "task 'ranking'"),
        ({"prediction": "label"}, "metric rmse scores a value"),
        ({"public_fraction": 1.0}, "public_fraction"),
        ({"target_columns": []}, "target_columns"),
        ({"target_columns": ["id"]}, "cannot also be a target"),
    ],
)
def test_inconsistent_spec_is_a_clear_config_error(tmp_path: Path, overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        toy_spec(tmp_path, **overrides)


def test_yaml_direction_mismatch_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / COMP
    shutil.copytree(get_competition(COMP).folder, folder)
    yaml_path = folder / "competition.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("higher_is_better: true", "higher_is_better: false"))
    monkeypatch.setenv("NBDOJO_COMPETITIONS_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match=r"competition.yaml.*set higher_is_better: true"):
        get_competition(COMP)
    with pytest.raises(ConfigError):
        list_competitions()


def test_yaml_missing_key_and_wrong_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBDOJO_COMPETITIONS_DIR", str(tmp_path))
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "competition.yaml").write_text("id: a\ntitle: A\n")
    with pytest.raises(ConfigError, match="missing required key"):
        get_competition("a")
    text = (PACKAGE_ROOT / "competitions" / "builtin" / COMP / "competition.yaml").read_text()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "competition.yaml").write_text(text)
    with pytest.raises(ConfigError, match="lives in folder 'b'"):
        get_competition("b")


# --------------------------------------------------------------------------- prepare / load


def test_load_before_prepare_says_how(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path))
    assert not is_prepared(get_competition(COMP))
    with pytest.raises(CompetitionNotPreparedError, match="run `nbdojo competitions prepare loan-default`"):
        load(COMP)


def test_prepare_is_deterministic_and_recorded(
    loan_default_data: CompetitionData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = data_dir(loan_default_data.spec)
    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path))
    second = prepare(COMP)
    assert second.public_dir == tmp_path / "data" / COMP / "public"
    files = sorted(p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file())
    assert files == [
        "checksums.json", "private/answers.csv", "private/oracle.csv", "public/sample_submission.csv",
        "public/test.csv", "public/train.csv",
    ]
    for relative in files:
        assert (first / relative).read_bytes() == (tmp_path / "data" / COMP / relative).read_bytes(), relative
    before = (second.train_path.stat().st_mtime_ns, second.answers_path.stat().st_mtime_ns)
    again = prepare(COMP)  # idempotent: verified, not rebuilt
    assert again == second
    assert (second.train_path.stat().st_mtime_ns, second.answers_path.stat().st_mtime_ns) == before
    assert not list((tmp_path / "data").glob(".loan-default.build-*"))


def test_corrupted_file_is_detected_and_force_rebuilds(
    loan_default_data: CompetitionData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(data_dir(loan_default_data.spec), tmp_path / "data" / COMP)
    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path))
    data = load(COMP)
    writable(tmp_path)
    with open(data.answers_path, "a") as handle:
        handle.write("L999999,1,Private\n")
    with pytest.raises(ChecksumMismatchError, match=r"answers.csv.*--force"):
        load(COMP)
    with pytest.raises(ChecksumMismatchError):
        prepare(COMP)
    assert load(COMP, verify_checksums=False).answers_path == data.answers_path
    prepare(COMP, force=True)
    load(COMP)
    data.train_path.chmod(0o644)
    data.train_path.unlink()
    with pytest.raises(ChecksumMismatchError, match="missing"):
        load(COMP)


def test_failed_build_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path / "home"))
    broken = toy_spec(tmp_path, "def prepare(public_dir, private_dir, seed):\n    raise RuntimeError('boom')\n")
    with pytest.raises(RuntimeError, match="boom"):
        prepare(broken)
    assert not is_prepared(broken)
    assert [p.name for p in (tmp_path / "home" / "data").iterdir()] == [".toy.lock"]


def test_build_output_is_checked_against_the_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path / "home"))
    leaky = toy_spec(tmp_path, TOY_PREPARE.replace('"x": range(10)})', '"x": range(10), "y": 1})', 1))
    with pytest.raises(NbdojoError, match=r"test\.csv of 'toy' contains target"):
        prepare(leaky)
    data = prepare(toy_spec(tmp_path))  # a good toy builds, with a seeded Usage split added
    usage = pd.read_csv(data.answers_path)["Usage"]
    assert usage.value_counts().to_dict() == {"Private": 7, "Public": 3}


# --------------------------------------------------------------------------- the loan-default data


def test_loan_default_shape_missingness_and_imbalance(loan_default_data: CompetitionData) -> None:
    train = pd.read_csv(loan_default_data.train_path)
    test = pd.read_csv(loan_default_data.test_path)
    sample = pd.read_csv(loan_default_data.sample_submission_path)
    assert train.shape == (40_000, 24) and test.shape == (75_000, 23)
    assert "default" not in test.columns and list(sample.columns) == ["id", "default"]
    assert set(train.columns) - set(test.columns) == {"default"}
    assert train["id"].str.fullmatch(r"L\d{6}").all() and not set(train["id"]) & set(test["id"])
    assert list(sample["id"]) == list(test["id"])
    assert 0.12 <= train["default"].mean() <= 0.20
    assert pd.to_datetime(train["application_date"], format="%Y-%m-%d").between("2018-01-01", "2023-12-31").all()
    for column in ("grade", "purpose", "home_ownership", "state", "employment_type"):
        assert train[column].dtype.kind in "OU" or pd.api.types.is_string_dtype(train[column]), column
    assert sorted(train["grade"].unique()) == list("ABCDEFG")
    missing = train.isna().mean()
    for column in ("annual_income", "employment_years", "debt_to_income", "revolving_utilization", "age"):
        assert 0.01 <= missing[column] <= 0.10, column
    informative = train.groupby(train["annual_income"].isna())["default"].mean()
    assert informative[True] > informative[False] + 0.03  # missing income is a risk signal
    by_grade = train.groupby("grade")["default"].mean()
    assert by_grade["A"] < by_grade["D"] < by_grade["G"]  # grade has its ordinal meaning


def test_answers_have_a_seeded_public_private_split(loan_default_data: CompetitionData) -> None:
    answers = pd.read_csv(loan_default_data.answers_path)
    test = pd.read_csv(loan_default_data.test_path, usecols=["id"])
    assert list(answers.columns) == ["id", "default", "Usage"]
    assert set(answers["id"]) == set(test["id"]) and answers["id"].is_unique
    assert set(answers["default"]) == {0, 1}
    assert answers["Usage"].value_counts().to_dict() == {"Private": 52500, "Public": 22500}
    public = answers[answers["Usage"] == "Public"]
    assert abs(public["default"].mean() - answers["default"].mean()) < 0.03


# --------------------------------------------------------------------------- every built-in competition

FULL = os.environ.get("NBDOJO_FULL_TESTS") == "1"
QUICK_SECONDS = 10  # competitions whose competition.yaml says they build faster are rebuilt in every run


def _builtin_ids() -> list[str]:
    return [s.id for s in list_competitions() if (s.folder / "competition.yaml").is_file() and not s.is_external]


def _quick(spec: CompetitionSpec) -> bool:
    """Fast enough to build twice in the default suite: by its stated build time, else by its size."""
    seconds = spec.extra.get("prepare_seconds")
    if seconds is not None:
        return float(seconds) <= QUICK_SECONDS
    rows = spec.extra.get("rows") or {}
    return sum(int(v) for v in rows.values()) <= 200_000 if rows else False


def test_at_least_15_competitions_in_6_categories_on_the_command_line() -> None:
    from typer.testing import CliRunner

    from nbdojo.cli.app import app

    result = CliRunner().invoke(app, ["competitions", "list"], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    builtins = [get_competition(i) for i in _builtin_ids()]
    assert len(builtins) >= 15 and len({s.category for s in builtins}) >= 6
    assert {"tabular", "timeseries", "cv", "nlp"} <= {s.category for s in builtins}
    for spec in builtins:
        assert spec.id in result.output
    header = result.output.splitlines()[2]
    for column in ("id", "category", "task", "metric", "origin", "train/test", "disk"):
        assert column in header, column


@pytest.mark.parametrize("competition_id", _builtin_ids())
def test_competition_folder_is_complete(competition_id: str) -> None:
    spec = get_competition(competition_id)
    for name in ("competition.yaml", "description.md", "prepare.py", "leaderboard.csv"):
        assert (spec.folder / name).is_file(), name
    text = spec.description
    for heading in ("## Data", "## Evaluation", "## Submission format", "## Leaderboard"):
        assert heading in text, heading
    assert "reference" in text.lower()  # the leaderboard is a ladder of reference solutions, said plainly
    board = pd.read_csv(spec.leaderboard_path)
    assert board["score"].round(6).nunique() >= 20
    scores = board["score"] if spec.higher_is_better else -board["score"]
    assert scores.is_monotonic_decreasing, "leaderboard.csv is best first"


@pytest.mark.parametrize("competition_id", _builtin_ids())
def test_prepare_twice_gives_byte_identical_files(
    prepared_home: Path, competition_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built once into the session's shared home, once more into a fresh one: same files, same bytes.

    Competitions that take longer than QUICK_SECONDS to build are checked when NBDOJO_FULL_TESTS=1.
    """
    spec = get_competition(competition_id)
    if not (_quick(spec) or FULL):
        pytest.skip(f"{competition_id} takes more than {QUICK_SECONDS}s to build; set NBDOJO_FULL_TESTS=1")
    first = prepare(spec)  # shared with the other tests of the session
    recorded = json.loads((data_dir(spec) / "checksums.json").read_text())
    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path))
    second = prepare(spec)
    again = json.loads((data_dir(spec) / "checksums.json").read_text())
    assert again == recorded  # a sha256 for every file, recorded by each build
    files = sorted(p.relative_to(second.public_dir.parent) for p in second.public_dir.parent.rglob("*") if p.is_file())
    assert sorted(Path(f) for f in recorded["files"]) == [f for f in files if f.name != "checksums.json"]
    sample = [f for f in files if f.suffix == ".csv"][:3]
    for relative in sample:  # and the bytes themselves, for a few files
        assert (first.public_dir.parent / relative).read_bytes() == (second.public_dir.parent / relative).read_bytes()
    verify(spec)


def test_cli_show_prepare_and_leaderboard(prepared_home: Path) -> None:
    from typer.testing import CliRunner

    from nbdojo.cli.app import app

    runner, env = CliRunner(), {"COLUMNS": "220"}
    shown = runner.invoke(app, ["competitions", "show", COMP], env=env)
    assert shown.exit_code == 0 and "roc_auc (higher is better)" in shown.output and "40k/75k" in shown.output
    prepared = runner.invoke(app, ["competitions", "prepare", COMP], env=env)
    assert prepared.exit_code == 0 and f"✓ {COMP}" in prepared.output  # already built: verified, not rebuilt
    board = runner.invoke(app, ["competitions", "leaderboard", COMP, "--top", "5"], env=env)
    assert board.exit_code == 0 and "reference ladder" in board.output and "ensemble" in board.output
    listing = runner.invoke(app, ["competitions", "list"], env=env)
    row = next(line for line in listing.output.splitlines() if line.strip().startswith(COMP))
    assert "synthetic" in row and "M" in row  # its origin, and its size on disk: prepared
    assert runner.invoke(app, ["competitions", "prepare"], env=env).exit_code != 0


def test_leaderboard_json_and_an_80_column_table_that_never_cuts_a_score() -> None:
    import json

    from typer.testing import CliRunner

    from nbdojo.cli import app
    from nbdojo.grading import load_leaderboard

    board = load_leaderboard(get_competition(COMP))
    runner = CliRunner()
    shown = runner.invoke(app, ["competitions", "leaderboard", COMP, "--json", "--top", "3"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["competition"] == COMP and data["size"] == len(board) and [e["rank"] for e in data["entries"]] == [1, 2, 3]
    assert data["entries"][0]["score"] == pytest.approx(float(board["score"].iloc[0]))
    narrow = runner.invoke(app, ["competitions", "leaderboard", COMP, "--top", "10"], env={"COLUMNS": "80"})
    assert narrow.exit_code == 0 and max(map(len, narrow.stdout.splitlines())) <= 80
    for score in board["score"].head(10):
        assert f"{score:.6g}" in narrow.stdout


def test_prepare_reports_what_it_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    import types

    from nbdojo.competitions import data as data_module

    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path))
    load = data_module._load_module

    def slow(path, name):  # a long build: the watcher reports while prepare.py runs
        module = load(path, name)

        def prepare_slowly(public, private, seed):
            module.prepare(public, private, seed)
            time.sleep(1.2)

        return types.SimpleNamespace(prepare=prepare_slowly)

    monkeypatch.setattr(data_module, "_load_module", slow)
    heard: list[str] = []
    prepared = prepare("penguins", on_progress=heard.append)
    assert any(re.fullmatch(r"\d+ files, [\d.]+ MB", h) for h in heard[:-1]), heard
    rows = sum(len(p.read_text().splitlines()) - 1 for p in
               [*prepared.public_dir.glob("*.csv"), *prepared.private_dir.glob("*.csv")])
    assert heard[-1] == f"5 files, {rows:,} rows"  # train, test, sample; answers and oracle


def test_data_built_from_an_older_recipe_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A prepare.py that changed (an nbdojo upgrade) makes the prepared data stale: it is built again on use."""
    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path / "home"))
    spec = toy_spec(tmp_path)
    prepare(spec)
    assert is_prepared(spec)
    (spec.folder / "reference.py").write_text("# reference solutions do not change the data\n")
    assert is_prepared(spec)
    spec.prepare_path.write_text(TOY_PREPARE.replace("range(10)})", "[v * 2 for v in range(10)]})"))
    assert not is_prepared(spec)
    data = prepare(spec)
    assert is_prepared(spec)
    assert list(pd.read_csv(data.answers_path)["y"])[:3] == [0, 2, 4]
