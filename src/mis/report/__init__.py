"""`mis report`: a leaderboard, charts and one browsable HTML page over evaluation run folders.

Reads only results.json and samples.jsonl, so a report can be rebuilt any time without a model or a
judge.
"""

from mis.report._build import ReportPaths, build_report, load_runs
from mis.report._load import ReportError, RunResult

__all__ = ["ReportError", "ReportPaths", "RunResult", "build_report", "load_runs"]
