"""``python -m mis.eval.benchmarks run|list``."""

from mis.eval.benchmarks.cli import bench_app

bench_app(prog_name="python -m mis.eval.benchmarks")
