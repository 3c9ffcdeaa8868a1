"""The verifiers plugin module for the taskset (and harness) id `nbdojo-verifiers`.

verifiers resolves a plugin id to a top-level module (`vf-eval nbdojo-verifiers ...`) and takes the
`Taskset` and `Harness` subclasses it exports; they live in `nbdojo.integrations.verifiers`.
"""

from nbdojo.integrations import require

require("verifiers.v1", "verifiers", feature="nbdojo's verifiers environment")

from nbdojo.integrations.verifiers import load_environment  # noqa: E402
from nbdojo.integrations.verifiers.harness import NbdojoHarness  # noqa: E402
from nbdojo.integrations.verifiers.taskset import NbdojoTaskset  # noqa: E402

__all__ = ["NbdojoHarness", "NbdojoTaskset", "load_environment"]
