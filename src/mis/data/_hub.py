"""Hub ids (``Tuwhy/MIS_Test``): download a snapshot with huggingface_hub, unpack image archives."""

from __future__ import annotations

import logging
import os
import re
import zipfile
from pathlib import Path

from mis.data._errors import DataError

log = logging.getLogger(__name__)

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
#: The released MIS datasets (see docs/data.md).
KNOWN_REPOS = ("Tuwhy/MIS_Test", "Tuwhy/MIS_Train")


def hub_id_of(source: str) -> str | None:
    """The dataset repo id when ``source`` names one (``owner/name`` or ``hf://datasets/owner/name``)."""
    text = source.removeprefix("hf://datasets/")
    if text != source or (_HUB_ID.match(text) and not Path(source).exists()):
        return text.strip("/")
    return None


def _fix_hint(repo_id: str) -> str:
    return (
        f"Download it where the hub is reachable (`hf download {repo_id} --repo-type dataset "
        f"--local-dir mis_data`), copy the folder here, and pass the local folder instead, e.g. "
        f"`mis data validate mis_data` or `mis.data.load('mis_data')`."
    )


def download(repo_id: str, cache_dir: Path | None, allow_patterns: list[str] | None = None) -> Path:
    """Snapshot a hub dataset into ``cache_dir`` (default: the HF cache) and unpack its archives.

    ``allow_patterns`` limits the download to matching files (benchmarks whose repos hold much more than the
    evaluation needs). Offline (``HF_HUB_OFFLINE=1``) a cached snapshot is used; otherwise the error says
    the hub is
    unreachable and how to pass a local folder. Never hangs: the hub client's timeouts apply.
    """
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    offline = constants.is_offline_mode() or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    try:
        folder = snapshot_download(
            repo_id, repo_type="dataset", cache_dir=cache_dir, etag_timeout=10, local_files_only=offline,
            allow_patterns=allow_patterns,
        )
    except GatedRepoError as exc:
        raise DataError(f"{repo_id}: gated dataset on the hub; accept its terms and log in "
                        f"(`hf auth login`), or pass a local folder. {_fix_hint(repo_id)}") from exc
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise DataError(f"{repo_id}: not a dataset on the Hugging Face hub (and not a local path). "
                        f"Known MIS datasets: {', '.join(KNOWN_REPOS)}.") from exc
    except (LocalEntryNotFoundError, OSError) as exc:
        why = ("the hub is offline (HF_HUB_OFFLINE is set) and no copy is cached" if offline
               else f"the Hugging Face hub is unreachable ({type(exc).__name__})")
        raise DataError(f"{repo_id}: not a local path, so it was read as a hub dataset id, but {why}. "
                        + _fix_hint(repo_id)) from exc
    except Exception as exc:  # httpx transport errors and the like: same advice
        raise DataError(f"{repo_id}: the Hugging Face hub is unreachable ({type(exc).__name__}: {exc}). "
                        + _fix_hint(repo_id)) from exc
    root = Path(folder)
    unpack_archives(root)
    return root


def unpack_archives(folder: Path) -> list[Path]:
    """Extract each top-level ``*.zip`` (e.g. MIS_Train's images.zip) into ``folder`` once.

    A marker file records a finished extraction, so an interrupted one is redone and a finished one
    is not. Members that would land outside ``folder`` are refused (zip-slip).
    """
    done = []
    for archive in sorted(folder.glob("*.zip")):
        marker = folder / f".{archive.name}.extracted"
        if marker.exists():
            continue
        log.info("unpacking %s", archive)
        base = os.path.realpath(folder)
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                target = os.path.realpath(os.path.join(base, member))
                if not target.startswith(base + os.sep) and target != base:
                    raise DataError(f"{archive}: member {member!r} would be written outside {folder}")
            zf.extractall(folder)
        marker.write_text("ok\n")
        done.append(archive)
    return done
