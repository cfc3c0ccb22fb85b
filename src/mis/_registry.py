"""inspect_ai entry point: importing this registers mis's tasks, scorers and the `hfvlm` provider.

Keeps `inspect eval mis/mis_hard --model hfvlm/PATH` working without importing mis by hand. Nothing
here loads torch: the provider imports it when a model is created.
"""

from mis.eval._judge import mis_judge  # noqa: F401  (registers the scorer)
from mis.eval._tasks import mis, mis_easy, mis_hard, mis_real  # noqa: F401  (registers the tasks)
from mis.eval.benchmarks import tasks as _benchmark_tasks  # noqa: F401  (registers figstep, siuo, ...)
from mis.models.hfvlm import hfvlm  # noqa: F401  (registers the provider)
