"""The price table: built-in examples, name matching, config files, unknown models."""

from __future__ import annotations

import logging

import pytest

from nbdojo.agents import pricing
from nbdojo.errors import ConfigError
from nbdojo.agents.pricing import Price, PriceTable


def test_builtin_prices_and_cost():
    table = PriceTable()
    assert table.price("gpt-4o-mini") == Price(0.15, 0.60)
    assert table.cost("gpt-4o-mini", 1_000_000, 500_000) == pytest.approx(0.15 + 0.30)
    assert "gpt-4o" in table and len(table) >= 5


def test_snapshots_and_provider_prefixes_match_the_base_model():
    table = PriceTable()
    assert table.price("gpt-4o-2024-08-06") == table.price("gpt-4o")
    assert table.price("GPT-4o-mini-2024-07-18") == table.price("gpt-4o-mini")  # not gpt-4o's price
    assert table.price("openai/gpt-4.1-nano") == table.price("gpt-4.1-nano")
    assert table.price("claude-sonnet-4-20250514") == table.price("claude-sonnet-4")
    assert table.price("gpt-4o-turbo-special") is None  # only snapshot suffixes are stripped


def test_an_unknown_model_costs_nothing_and_warns_once(caplog, monkeypatch):
    monkeypatch.setattr(pricing, "_warned", set())
    table = PriceTable()
    with caplog.at_level(logging.WARNING, logger="nbdojo.agents.pricing"):
        assert table.cost("my-local-llama", 10_000, 10_000) == 0.0
        assert table.cost("my-local-llama", 10_000, 10_000) == 0.0
    warnings = [r for r in caplog.records if "my-local-llama" in r.getMessage()]
    assert len(warnings) == 1 and "counted as 0" in warnings[0].getMessage()


def test_prices_given_in_code_override_and_extend():
    table = PriceTable({"gpt-4o": {"input": 1, "output": 2}, "mine": (0.5, 0.5)})
    assert table.price("gpt-4o") == Price(1, 2) and table.price("MINE") == Price(0.5, 0.5)
    assert PriceTable({"only": (1, 1)}, builtin=False).price("gpt-4o") is None
    with pytest.raises(ConfigError, match="'bad' needs exactly 'input' and 'output'"):
        PriceTable({"bad": {"input": 1}})
    with pytest.raises(ConfigError, match="0 or more"):
        PriceTable({"neg": (-1, 1)})


@pytest.mark.parametrize("name, body", [
    ("prices.yaml", "models:\n  house-model: {input: 0.2, output: 0.8}\n  gpt-4o: {input: 9, output: 9}\n"),
    ("prices.yml", "house-model: {input: 0.2, output: 0.8}\ngpt-4o: [9, 9]\n"),
    ("prices.toml", '[models.house-model]\ninput = 0.2\noutput = 0.8\n[models."gpt-4o"]\ninput = 9\noutput = 9\n'),
    ("prices.json", '{"models": {"house-model": {"input": 0.2, "output": 0.8}, "gpt-4o": {"input": 9, "output": 9}}}'),
])
def test_config_files_in_every_format(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(body)
    table = PriceTable.from_file(path)
    assert table.price("house-model") == Price(0.2, 0.8)
    assert table.price("gpt-4o") == Price(9, 9)  # the file overrides the built-in example
    assert table.price("gpt-4o-mini") == Price(0.15, 0.60)  # built-ins stay


def test_the_default_table_reads_nbdojo_prices_then_the_user_config(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NBDOJO_PRICES", raising=False)
    assert PriceTable.default().price("house-model") is None  # no file: built-ins only
    config = tmp_path / ".config" / "nbdojo" / "prices.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("house-model: {input: 1, output: 1}\n")
    assert PriceTable.default().price("house-model") == Price(1, 1)
    other = tmp_path / "team.json"
    other.write_text('{"house-model": {"input": 3, "output": 4}}')
    monkeypatch.setenv("NBDOJO_PRICES", str(other))
    assert PriceTable.default().price("house-model") == Price(3, 4)


def test_bad_config_files_are_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="Cannot read the price file"):
        PriceTable.from_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="is not valid yaml"):
        PriceTable.from_file(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"models": {"m": {"input": "cheap", "output": 1}}}')
    with pytest.raises(ConfigError, match="wrong.json: .*'input' is 'cheap'"):
        PriceTable.from_file(wrong)
    (tmp_path / "p.ini").write_text("")
    with pytest.raises(ConfigError, match="must end in .yaml"):
        PriceTable.from_file(tmp_path / "p.ini")
