"""`mis report`: a leaderboard researchers can quote, comparison charts and a sample browser that scales.

Reads only results.json and samples.jsonl (schema 2 of docs/results.md, or 0.1.0's), so a report can be
rebuilt any time without a model or a judge.
"""

from mis.report._build import ReportPaths, build_report, load_runs
from mis.report._load import Headline, ReportError, ReportOptionError, RunResult
from mis.report._published import Published, published_models

__all__ = ["Headline", "Published", "ReportError", "ReportOptionError", "ReportPaths", "RunResult",
           "build_report", "load_runs", "published_models"]
