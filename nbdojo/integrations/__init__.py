"""nbdojo inside other people's tools: an MCP server, Hugging Face datasets, trainers' environments.

Each integration needs a package nbdojo does not otherwise depend on, installed with an extra
(`pip install 'nbdojo[mcp]'`, `'nbdojo[hf]'`). `require` imports it on first use, so nbdojo works
without the extras and a missing one is one clear line naming the extra.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from nbdojo.errors import MissingExtraError

__all__ = ["require"]


def require(module: str, extra: str, *, feature: str) -> ModuleType:
    """Import `module`, or raise `MissingExtraError` saying which extra of nbdojo brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name is not None and exc.name.split(".")[0] != module.split(".")[0]:
            raise  # the package is there but one of its own imports failed: show that, not a wrong hint
        raise MissingExtraError(f"{feature} needs the '{module.split('.')[0]}' package: "
                                f"pip install 'nbdojo[{extra}]'") from None
