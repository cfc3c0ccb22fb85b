"""inspect_ai entry point: importing this registers mis's benchmark tasks and the `hfvlm` provider.

Keeps `inspect eval mis/mis_hard --model hfvlm/PATH` working without importing mis by hand. Nothing
here loads torch: the provider imports it when a model is created.
"""

from mis.eval._inspect import register_tasks
from mis.models.hfvlm import hfvlm  # noqa: F401  (registers the provider)

TASKS = register_tasks()
