"""No answers within the kernel's reach: looking rows up in the data a competition starts from gains nothing.

The agent's kernel has the Python packages a Kaggler expects, scikit-learn among them, so a
competition built from a package's data set (scikit-learn's bundled sets, palmerpenguins)
hands the agent that data set too. Every built-in competition's prepare.py is read (its
imports and calls, not run) for the data it starts from:

- one that loads none (a seeded generator) is held to that;
- one that starts from a package's data needs a probe here: its test rows are matched by
  nearest neighbour to the source's rows, on the columns they share (each standardised on its
  own side, so a change of units does not hide a match; the mean gap over the closest 70% of
  the columns, so a few altered or missing columns do not either), and the source's answers
  for the matches are graded as a submission. That lookup must score worse than the ladder's
  best entry and worse than a simple model trained on train.csv.

A competition whose prepare.py starts from a package's data without a probe fails. A probe lives here or in
`tests/leak_probes/<competition id>.py` (module-level `SOURCES`, a set of what the scan finds, and
`submissions(data) -> (lookup frame, simple-model frame)`; `_lookup.nearest_rows` does the matching).
"""

from __future__ import annotations

import ast
import importlib.resources
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nbdojo.competitions import CompetitionData, CompetitionSpec, list_competitions, prepare
from nbdojo.grading import METRICS, load_leaderboard
from nbdojo.competitions.ladder import score_entry

sys.path.insert(0, str(Path(__file__).parent / "leak_probes"))
from _lookup import nearest_rows  # noqa: E402  (shared with the probe files)

PROBE_DIR = Path(__file__).parent / "leak_probes"

#: What a generator may import without it counting as a data source: the standard library (minus the
#: package-data readers, checked as calls), the array and image stack, and nbdojo's own helpers.
GENERATOR_PACKAGES = {"numpy", "pandas", "PIL", "scipy", "nbdojo"}
DATA_MODULES = ("scipy.datasets", "scipy.misc")  # inside allowed packages, but they ship data sets
PACKAGE_DATA_CALLS = {"importlib.resources.files", "importlib.resources.read_text", "importlib.resources.open_text",
                      "importlib.resources.read_binary", "importlib.resources.open_binary", "importlib.resources.path",
                      "pkgutil.get_data", "pkg_resources.resource_filename", "pkg_resources.resource_stream",
                      "pkg_resources.resource_string"}


def _builtin() -> list[CompetitionSpec]:
    return [spec for spec in list_competitions() if spec.layout == "nbdojo"]


def _dotted(node: ast.expr) -> str:
    """`a.b.c` for a name or attribute chain, "" for anything else (a call's result, a subscript)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    return ".".join([node.id, *reversed(parts)])


def data_sources(path: Path) -> set[str]:
    """What prepare.py starts from: imports of data packages, `load_*`/`fetch_*` calls it does not define,
    and reads of a package's own files (palmerpenguins ships its csv as package data)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    names: dict[str, str] = {}  # local name -> where it comes from
    found: set[str] = set()

    def imported(module: str) -> None:
        top = module.split(".")[0]
        allowed = top in sys.stdlib_module_names or top in GENERATOR_PACKAGES or top == "__future__"
        if not allowed or module.startswith(DATA_MODULES):
            found.add(module)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                names[alias.asname or top] = alias.name if alias.asname else top
                imported(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                imported(f"{node.module}.{alias.name}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        called = _dotted(node.func)
        head, _, rest = called.partition(".")
        if not called or head in defined:
            continue
        full = ".".join(filter(None, [names.get(head, head), rest]))
        if full.rsplit(".", 1)[-1].startswith(("load_", "fetch_")):
            found.add(full)
        elif full in PACKAGE_DATA_CALLS:
            package = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else "?"
            found.add(f"package data of {package}")
    return found


def test_the_scan_sees_what_a_generator_loads(tmp_path: Path) -> None:
    """The scan itself: each way of reaching a data set is found, a seeded generator is clean."""
    cases = {
        "from sklearn.datasets import load_digits\nx = load_digits()\n": {"sklearn.datasets.load_digits"},
        "import sklearn.datasets as d\nx = d.fetch_openml('mnist_784')\n":
            {"sklearn.datasets", "sklearn.datasets.fetch_openml"},
        "import importlib.resources\nf = importlib.resources.files('palmerpenguins')\n":
            {"package data of palmerpenguins"},
        "import seaborn\n": {"seaborn"},
        "from scipy.datasets import face\n": {"scipy.datasets.face"},
        "import numpy as np\ndef load_rows(rng):\n    return rng.normal(size=3)\n"
        "x = load_rows(np.random.default_rng(0))\ny = np.load('x.npy')\n": set(),
    }
    for code, expected in cases.items():
        path = tmp_path / "prepare.py"
        path.write_text(code)
        assert data_sources(path) == expected, code


# --------------------------------------------------------------------------- lookups


def _diabetes(data: CompetitionData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lookup and ridge submissions for diabetes-progression (source: load_diabetes, unscaled)."""
    from sklearn.datasets import load_diabetes

    spec = data.spec
    source = load_diabetes(as_frame=True, scaled=False).frame.rename(columns={
        "bp": "blood_pressure", "s1": "total_cholesterol", "s2": "ldl", "s3": "hdl", "s4": "tc_hdl_ratio",
        "s5": "log_triglycerides", "s6": "glucose"})
    train, test = pd.read_csv(data.train_path), pd.read_csv(data.test_path)
    for frame in (train, test):
        frame["sex"] = frame["sex"].map({"F": 1.0, "M": 2.0})  # the source's coding
    shared = [c for c in source.columns if c in test.columns]
    assert len(shared) >= 8, shared
    lookup = source["target"].to_numpy()[nearest_rows(test[shared], source)]
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), Ridge(alpha=1.0))
    model.fit(train[shared], train[spec.target_columns[0]])
    ids, target = test[spec.id_column], spec.target_columns[0]
    return (pd.DataFrame({spec.id_column: ids, target: lookup}),
            pd.DataFrame({spec.id_column: ids, target: model.predict(test[shared])}))


def _penguins(data: CompetitionData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lookup and logistic submissions for penguins (source: palmerpenguins' csv)."""
    spec = data.spec
    with importlib.resources.as_file(importlib.resources.files("palmerpenguins") / "data" / "penguins.csv") as csv:
        source = pd.read_csv(csv).rename(columns={"body_mass_g": "body_mass"})
    train, test = pd.read_csv(data.train_path), pd.read_csv(data.test_path)
    for frame in (source, train, test):
        frame["sex"] = frame["sex"].map({"male": 1.0, "female": 0.0})
        frame["island"] = frame["island"].map({"Biscoe": 0.0, "Dream": 1.0, "Torgersen": 2.0})
    shared = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass", "sex"]
    species = list(spec.target_columns)
    truth = train[species].to_numpy().argmax(axis=1)

    def looked_up(frame: pd.DataFrame) -> np.ndarray:
        labels = source["species"].map({s: i for i, s in enumerate(species)}).to_numpy()
        return labels[nearest_rows(frame[shared], source)]

    # The lookup's label, as sure as it is right on train.csv: a calibrated lookup, not a reckless one.
    sure = float(np.mean(looked_up(train) == truth))
    probabilities = np.full((len(test), len(species)), (1 - sure) / (len(species) - 1))
    probabilities[np.arange(len(test)), looked_up(test)] = sure
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(train[shared], truth)
    ids = test[[spec.id_column]].reset_index(drop=True)
    return (ids.join(pd.DataFrame(probabilities, columns=species)),
            ids.join(pd.DataFrame(model.predict_proba(test[shared]), columns=species)))


@dataclass(frozen=True)
class Probe:
    """A lookup against a competition's source data, beside a simple model trained on its train.csv."""

    sources: frozenset[str]  # what data_sources() finds in prepare.py
    submissions: Callable[[CompetitionData], tuple[pd.DataFrame, pd.DataFrame]]  # (lookup, simple model)
    #: the model was fitted offline to `sources` and ships with the competition (prepare.py loads no data set)
    fitted_offline: bool = False


def _probe_files() -> dict[str, Probe]:
    """Probes of their own files: tests/leak_probes/<competition id>.py, each with SOURCES and submissions(data)."""
    probes = {}
    for path in sorted(PROBE_DIR.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"leak_probe_{path.stem.replace('-', '_')}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        probes[path.stem] = Probe(frozenset(module.SOURCES), module.submissions)
    return probes


PROBES = {
    "diabetes-progression": Probe(frozenset(), _diabetes, fitted_offline=True),  # copula.json, fitted to load_diabetes
    "penguins": Probe(frozenset({"package data of palmerpenguins"}), _penguins),
    **_probe_files(),
}


# --------------------------------------------------------------------------- the checks


@pytest.mark.parametrize("spec", _builtin(), ids=lambda spec: spec.id)
def test_generator_loads_no_data_set_or_is_probed(spec: CompetitionSpec) -> None:
    sources = data_sources(spec.prepare_path)
    if spec.id not in PROBES:
        assert not sources, (
            f"{spec.id}'s prepare.py starts from {sorted(sources)}: a package in the agent's kernel may hold the "
            "answers. Generate the data, or add a probe to tests/test_leaks.py showing a lookup gains nothing."
        )
        return
    if PROBES[spec.id].fitted_offline:
        assert not sources, f"{spec.id} samples from a model fitted offline, yet its prepare.py loads {sorted(sources)}"
        return
    assert sources, f"{spec.id} has a lookup probe but its prepare.py loads no data set: drop the probe"
    assert sources <= PROBES[spec.id].sources, f"{spec.id} loads {sorted(sources - PROBES[spec.id].sources)} unprobed"


@pytest.mark.parametrize("cid", sorted(PROBES))
def test_lookup_in_the_source_gains_nothing(prepared_home: Path, cid: str) -> None:
    data = prepare(cid)
    spec = data.spec
    lookup, model = (score_entry(data, name, frame)["score"]
                     for name, frame in zip(("lookup", "model"), PROBES[cid].submissions(data), strict=True))
    best = float(load_leaderboard(spec)["score"].iloc[0])
    sign = 1.0 if METRICS[spec.metric].higher_is_better else -1.0
    where = (f"{cid} ({spec.metric}): lookup {lookup:.4f}, simple model on train.csv {model:.4f}, "
             f"ladder's best {best:.4f}")
    assert sign * lookup < sign * best, f"a lookup in the source data beats the whole ladder: {where}"
    assert sign * lookup < sign * model, f"a lookup in the source data beats a model trained on train.csv: {where}"
