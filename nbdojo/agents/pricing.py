"""What an LLM's tokens cost: USD per million input and output tokens, per model name.

The built-in table holds a few well-known models at example, approximate list
prices (vendors change them; check their pages). Add or override models in a
config file named by `NBDOJO_PRICES`, or `~/.config/nbdojo/prices.yaml`
(YAML, TOML or JSON by suffix)::

    models:
      my-local-model: {input: 0.0, output: 0.0}
      gpt-4o: {input: 2.5, output: 10.0}

A top-level mapping without `models:` works too. A model not in the table costs
0, with one warning per model name.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nbdojo.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

log = logging.getLogger(__name__)

PRICES_ENV = "NBDOJO_PRICES"
DEFAULT_PRICES_FILE = Path("~/.config/nbdojo/prices.yaml")


@dataclass(frozen=True)
class Price:
    """USD per one million tokens."""

    input: float
    output: float

    def __post_init__(self) -> None:
        for name in ("input", "output"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"A price must be a number of USD per 1M tokens, 0 or more; '{name}' is {value!r}.")


# Examples at approximate list prices (USD per 1M tokens); not authoritative.
BUILTIN_PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "o3": Price(2.00, 8.00),
    "o3-mini": Price(1.10, 4.40),
    "o4-mini": Price(1.10, 4.40),
    "claude-3-5-haiku": Price(0.80, 4.00),
    "claude-3-7-sonnet": Price(3.00, 15.00),
    "claude-sonnet-4": Price(3.00, 15.00),
    "deepseek-chat": Price(0.27, 1.10),
    "deepseek-reasoner": Price(0.55, 2.19),
}

# Suffixes that name a snapshot of a listed model: gpt-4o-2024-08-06, claude-sonnet-4-20250514, x-latest.
_SNAPSHOT = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4}|-latest|-preview)$")
_warned: set[str] = set()


def _canonical(model: str) -> str:
    return model.strip().lower()


def _lookup_names(model: str) -> list[str]:
    """Names to try for a model, most specific first: as given, without provider prefix, without snapshot suffix."""
    names = [_canonical(model)]
    if "/" in names[0]:
        names.append(names[0].rsplit("/", 1)[1])
    for name in list(names):
        stripped = name
        while True:
            shorter = _SNAPSHOT.sub("", stripped)
            if shorter == stripped or not shorter:
                break
            stripped = shorter
            names.append(stripped)
    return list(dict.fromkeys(names))


def _to_price(model: str, value: Any) -> Price:
    if isinstance(value, Price):
        return value
    if isinstance(value, Mapping):
        unknown = set(value) - {"input", "output"}
        if unknown or not {"input", "output"} <= set(value):
            raise ConfigError(f"The price of {model!r} needs exactly 'input' and 'output' (USD per 1M tokens).")
        return Price(value["input"], value["output"])
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return Price(value[0], value[1])
    raise ConfigError(f"The price of {model!r} must be {{input: USD, output: USD}} per 1M tokens, not {value!r}.")


class PriceTable:
    """Model name -> `Price`; `cost()` turns token counts into USD."""

    def __init__(self, prices: Mapping[str, Price | Mapping[str, float] | tuple[float, float]] | None = None,
                 *, builtin: bool = True):
        self._prices: dict[str, Price] = dict(BUILTIN_PRICES) if builtin else {}
        self.update(prices or {})

    def update(self, prices: Mapping[str, Any]) -> None:
        """Add or override models."""
        for model, value in prices.items():
            self._prices[_canonical(str(model))] = _to_price(str(model), value)

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.price(model) is not None

    def __len__(self) -> int:
        return len(self._prices)

    def price(self, model: str) -> Price | None:
        """The price of a model; a provider prefix (`openai/`) or snapshot suffix (`-2024-08-06`) is ignored."""
        for name in _lookup_names(model):
            if name in self._prices:
                return self._prices[name]
        return None

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for one request; 0 for an unknown model (with one warning per model)."""
        price = self.price(model)
        if price is None:
            if model not in _warned:
                _warned.add(model)
                log.warning("No price known for model %r: its cost is counted as 0. Add it to %s or $%s.",
                            model, DEFAULT_PRICES_FILE, PRICES_ENV)
            return 0.0
        return (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000

    @classmethod
    def from_file(cls, path: str | Path, *, builtin: bool = True) -> PriceTable:
        """The built-in table extended by a YAML, TOML or JSON file."""
        table = cls(builtin=builtin)
        table.update(load_prices_file(path))
        return table

    @classmethod
    def default(cls) -> PriceTable:
        """Built-in prices plus `$NBDOJO_PRICES` or, if it exists, `~/.config/nbdojo/prices.yaml`."""
        env = os.environ.get(PRICES_ENV)
        if env:
            return cls.from_file(env)
        path = DEFAULT_PRICES_FILE.expanduser()
        return cls.from_file(path) if path.is_file() else cls()


def load_prices_file(path: str | Path) -> dict[str, Price]:
    """Model -> Price from a config file; errors name the file and what is wrong."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read the price file {path}: {exc.strerror or exc}.") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml", ""):
            data = yaml.safe_load(text)
        else:
            raise ConfigError(f"The price file {path} must end in .yaml, .yml, .toml or .json.")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"The price file {path} is not valid {suffix.lstrip('.') or 'YAML'}: {exc}") from None
    if data is None:
        return {}
    if isinstance(data, Mapping) and isinstance(data.get("models"), Mapping):
        data = data["models"]
    if not isinstance(data, Mapping):
        raise ConfigError(f"The price file {path} must map model names to {{input, output}} prices.")
    try:
        return {_canonical(str(model)): _to_price(str(model), value) for model, value in data.items()}
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
