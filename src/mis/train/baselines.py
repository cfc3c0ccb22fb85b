"""The paper's baseline training sets (paper App. B.2, MIS.md section 5), written in the MIS layout.

Kinds:
  - ``text-only``: MIRage text-only. Each MIS training sample without its images, asked with its
    *original* question, the one that names both objects (the MIS train question refers to "the object
    in the first image", which means nothing without the image). The original is read from
    ``metadata["original_question"]`` (what `mis build` records: the extracted question before image
    references and detoxification); the MIS train release does not carry it, so for those records a
    VLM recovers it from the two images and the question (``rewrite_model``: any inspect model), a
    rewrite recorded in the sample's metadata.
  - ``sorry-prefix``: MIRage with "I'm sorry"-prefixed labels, the ablation without safety-CoT
    reasoning: an LLM (``rewrite_model``) rewrites each MIRage label into an answer that begins with
    "I'm sorry" (template `templates/sorry_rewrite.jinja`).
  - ``vlguard-p``: VLGuard-P from VLGuard's *training* data (`load_vlguard_train`): 2k unsafe
    instructions with VLGuard's refusal answers + 1k safe ones with helpful answers, one image each.
  - ``black-image``: Textual SFT: every sample's images replaced by one all-black image (the paper
    pairs 2k harmful + 1k benign *text* SFT pairs with an all-black image; bring that text set).
  - ``refusal``: every target replaced by a canned refusal from a template file (not a paper baseline:
    refusal labels on MIS inputs; kept for the MIS-mini demo).

``rewrite_model="offline"`` is a deterministic stand-in for tests and CPU demos, not the paper's
method (a fixed "I'm sorry" sentence before the label's last sentence; the MIS question unchanged for
text-only); the metadata of every sample says which model wrote it. Rewrites are cached in
``OUT/rewrites.jsonl`` keyed by sample and request, so a rerun after a crash asks only for what is missing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mis.errors import DataError, MisError, RunStopped, UsageError

if TYPE_CHECKING:
    from mis.data import Sample

__all__ = ["KINDS", "BaselineKind", "load_vlguard_train", "make_baseline", "read_template_lines"]

BaselineKind = Literal["text-only", "sorry-prefix", "vlguard-p", "black-image", "refusal"]
KINDS: tuple[str, ...] = ("text-only", "sorry-prefix", "vlguard-p", "black-image", "refusal")
#: Kinds whose labels or questions come from a model (``rewrite_model``).
REWRITTEN = ("text-only", "sorry-prefix")
CACHE_FILE = "rewrites.jsonl"
#: VLGuard's instruction keys -> the subset they form (as in its test split's names).
_VLGUARD_KEYS = {
    "instruction": "unsafe", "unsafe_instruction": "safe_unsafe", "safe_instruction": "safe_safe",
}


def read_template_lines(path: str | Path | None, default: str) -> list[str]:
    """Non-empty, non-comment lines of a template file (a packaged one when ``path`` is None)."""
    if path is None:
        text = (resources.files("mis.train") / "templates" / default).read_text(encoding="utf-8")
        where = f"mis/train/templates/{default}"
    else:
        text, where = Path(path).read_text(encoding="utf-8"), str(path)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise UsageError(f"template {where}: no lines (comments start with '#')")
    return lines


def _template(name: str) -> str:
    return (resources.files("mis.train") / "templates" / name).read_text(encoding="utf-8")


def _pick(lines: list[str], uid: str) -> str:
    digest = hashlib.sha256(uid.encode()).digest()
    return lines[int.from_bytes(digest[:4], "big") % len(lines)]


def _black_png(folder: Path, size: int) -> Path:
    from PIL import Image

    path = folder / "black.png"
    Image.new("RGB", (size, size), (0, 0, 0)).save(path)
    return path


# --------------------------------------------------------------------------------------- VLGuard
def load_vlguard_train(root: str | Path) -> list[Sample]:
    """VLGuard's training set (GitHub / HF `ys-zong/VLGuard`: `train.json` + the `train.zip` images).

    Each record has one image; an unsafe image carries one (instruction, refusal) pair, a safe image a
    safe instruction with a helpful answer and an unsafe instruction with a refusal. That gives the
    paper's "2k unsafe + 1k safe" (1,023 + 977 refusals, 977 helpful answers in the release). Images
    are found under ``root/train/`` (the unzipped `train.zip`) or ``root/``.
    """
    from mis.data import Sample

    root = Path(root)
    file = next((p for p in (root / "train.json", root / "data" / "train.json") if p.is_file()), None)
    if file is None:
        raise DataError(f"{root}: no train.json (VLGuard's training metadata, GitHub ys-zong/VLGuard data/)")
    try:
        records = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{file}: not JSON ({exc})") from exc
    if not isinstance(records, list) or not records:
        raise DataError(f"{file}: expected a non-empty JSON array of VLGuard records")
    image_root = _vlguard_image_root(root, file, records)
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    for index, record in enumerate(records):
        where = f"{file}: sample {record.get('id', f'#{index}') if isinstance(record, dict) else f'#{index}'}"
        if not isinstance(record, dict) or not isinstance(record.get("image"), str):
            raise DataError(f"{where}: field 'image': expected a string path")
        pairs = record.get("instr-resp")
        if not isinstance(pairs, list) or not pairs or not all(isinstance(p, dict) for p in pairs):
            raise DataError(f"{where}: field 'instr-resp': expected a list of instruction/response objects")
        base = _safe(str(record.get("id", index)))
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:  # the release repeats one id (Ads_303871)
            base = f"{base}_{seen[base]}"
        for pair in pairs:
            key = next((k for k in _VLGUARD_KEYS if k in pair), None)
            if key is None or not isinstance(pair.get("response"), str):
                raise DataError(f"{where}: field 'instr-resp': each pair needs one of instruction, "
                                "safe_instruction, unsafe_instruction and a string response")
            kind = _VLGUARD_KEYS[key]
            meta = {"vlguard_id": record.get("id"), "vlguard_subset": kind, "image_safe": record.get("safe"),
                    "harmful_category": record.get("harmful_category"),
                    "harmful_subcategory": record.get("harmful_subcategory"), "baseline": "vlguard-p"}
            samples.append(Sample(id=f"{base}_{kind}", split="train", question=pair[key],
                                  images=[record["image"]], target=pair["response"],
                                  metadata={k: v for k, v in meta.items() if v is not None}, root=image_root))
    return samples


def _vlguard_image_root(root: Path, file: Path, records: list[Any]) -> Path:
    images = [r["image"] for r in records if isinstance(r, dict) and isinstance(r.get("image"), str)]
    first = images[0] if images else None
    candidates = [root / "train", root, file.parent / "train", file.parent]
    for candidate in candidates:
        if first is not None and (candidate / first).is_file():
            return candidate
    raise DataError(f"{root}: VLGuard images not found: {first!r} is under none of "
                    f"{', '.join(str(c) for c in candidates)} (unzip VLGuard's train.zip there)")


def _safe(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "_" for c in text).lstrip("._-")
    return cleaned or "x"


# -------------------------------------------------------------------------------------- rewrites
class Rewriter:
    """Asks one model for each rewrite: any inspect model, or ``offline`` (a deterministic stand-in)."""

    def __init__(self, model: str, *, base_url: str | None = None, concurrency: int = 8) -> None:
        self.model, self.base_url, self.concurrency = model, base_url, concurrency
        self._api: Any = None

    async def ask(self, prompt: str, images: Sequence[Path], sample: Sample, kind: str) -> str:
        """The model's reply to ``prompt`` with ``images`` shown first, labelled Image-1, Image-2."""
        if self.model == "offline":
            return _offline(sample, kind)
        from inspect_ai.model import ChatMessageUser, ContentImage, ContentText, GenerateConfig, get_model

        if self._api is None:
            self._api = get_model(self.model, base_url=self.base_url, memoize=False,
                                  config=GenerateConfig(temperature=0.0, max_tokens=2048))
        content: list[Any] = []
        for k, path in enumerate(images, start=1):
            content += [ContentText(text=f"Image-{k}:"), ContentImage(image=_data_uri(path))]
        content.append(ContentText(text=prompt))
        try:
            output = await self._api.generate([ChatMessageUser(content=content)])
        except Exception as exc:  # noqa: BLE001 - after inspect's own retries: stop, resumably
            raise RunStopped(f"rewrite of sample {sample.uid} by {self.model} failed ({exc}); finished "
                             "rewrites are kept in the output folder: rerun the same command") from exc
        if output.error or not output.completion.strip():
            raise RunStopped(f"rewrite of sample {sample.uid} by {self.model}: no answer "
                             f"({output.error or 'empty reply'}); rerun the same command to retry it")
        return output.completion.strip()


def _data_uri(path: Path) -> str:
    import base64
    import mimetypes

    mime = mimetypes.guess_type(str(path))[0] or "image/png"
    return f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode()}"


def _offline(sample: Sample, kind: str) -> str:
    """Deterministic stand-in replies (tests, CPU demos): never the paper's method."""
    if kind == "sorry-prefix":
        sentences = [s.strip() for s in (sample.target or "").replace("\n", " ").split(". ") if s.strip()]
        tail = f" {sentences[-1].rstrip('.')}." if sentences else ""
        return "I'm sorry, but I can't help with that as asked." + tail
    return sample.question  # text-only: it cannot see the images, so the MIS question stays as it is


def _request(kind: str, sample: Sample) -> tuple[str, list[Path]]:
    from jinja2 import Template

    if kind == "sorry-prefix":
        template = Template(_template("sorry_rewrite.jinja"))
        prompt = template.render(question=sample.question, answer=sample.target)
        return prompt, []
    prompt = Template(_template("original_question.jinja")).render(question=sample.question)
    return prompt, sample.image_paths()


def _rewrite_all(samples: list[Sample], kind: str, rewriter: Rewriter, cache: Path) -> dict[str, str]:
    """Each sample's rewrite by uid, asking only for what ``cache`` lacks (appended as replies arrive)."""
    done: dict[str, str] = {}
    if cache.is_file():
        for line in cache.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            done[entry["key"]] = entry["text"]
    keys = {}
    for s in samples:
        prompt, images = _request(kind, s)
        keys[s.uid] = hashlib.sha256(json.dumps([kind, rewriter.model, s.uid, prompt]).encode()).hexdigest()

    async def run() -> None:
        semaphore = asyncio.Semaphore(rewriter.concurrency)

        async def one(sample: Sample) -> None:
            async with semaphore:
                prompt, images = _request(kind, sample)
                text = await rewriter.ask(prompt, images, sample, kind)
            _check_rewrite(kind, text, sample, rewriter.model)  # a bad reply is never cached
            done[keys[sample.uid]] = text
            with cache.open("a", encoding="utf-8") as fh:  # one line per reply: a crash loses nothing done
                fh.write(json.dumps({"key": keys[sample.uid], "uid": sample.uid, "text": text}) + "\n")

        await asyncio.gather(*(one(s) for s in samples if keys[s.uid] not in done))

    asyncio.run(run())
    return {s.uid: done[keys[s.uid]] for s in samples}


def _check_rewrite(kind: str, text: str, sample: Sample, model: str) -> None:
    if kind == "sorry-prefix" and not text.startswith("I'm sorry"):
        raise MisError(f"sample {sample.uid}: the rewrite by {model} does not begin with \"I'm sorry\": "
                       f"{text[:80]!r}; check the model (prompt: templates/sorry_rewrite.jinja)")


# ---------------------------------------------------------------------------------------- convert
def convert(sample: Sample, kind: str, *, refusals: list[str], black: Path | None,
            rewrite: str | None = None, rewrite_model: str | None = None) -> Sample:
    """One labelled sample -> its baseline variant (metadata records the kind and any rewrite)."""
    if not (sample.target or "").strip():
        raise DataError(f"sample {sample.uid}: field 'target' is empty; baselines need labelled data")
    meta: dict[str, Any] = {**sample.metadata, "baseline": kind}
    if kind in ("text-only", "black-image"):
        meta.pop("user_turn", None)  # its image placeholders no longer match the images
    update: dict[str, Any]
    if kind == "refusal":
        update = {"target": _pick(refusals, sample.uid)}
    elif kind == "sorry-prefix":
        assert rewrite is not None
        update = {"target": rewrite}
        meta.update(mirage_target=sample.target, rewrite_model=rewrite_model)
    elif kind == "text-only":
        original = sample.metadata.get("original_question")
        if isinstance(original, str) and original.strip():
            question, source = original.strip(), "metadata"
        else:
            assert rewrite is not None
            question, source = rewrite, str(rewrite_model)
        update = {"images": [], "question": question}
        meta.update(mis_question=sample.question, original_question_source=source)
    elif kind == "black-image":
        assert black is not None
        update = {"images": [str(black)]}
    else:
        raise UsageError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    return sample.model_copy(update={**update, "metadata": meta})


def make_baseline(
    source: str | Path,
    kind: str,
    out: str | Path,
    *,
    splits: Sequence[str] | None = None,
    template: str | Path | None = None,
    black_size: int = 448,
    rewrite_model: str | None = None,
    rewrite_base_url: str | None = None,
) -> Path:
    """Write the ``kind`` variant of ``source`` to ``out`` (MIS layout); return ``out``.

    ``source`` is a labelled dataset (`mis.data.load`), or for ``vlguard-p`` VLGuard's folder
    (`load_vlguard_train`). ``template`` replaces the packaged refusal lines (``refusal``).
    ``rewrite_model`` (an inspect model string, or ``offline``) is required for ``sorry-prefix`` and
    for ``text-only`` samples without ``metadata["original_question"]``.
    """
    from mis.data import load, write_mis_layout

    if kind not in KINDS:
        raise UsageError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    out = Path(out)
    if out.exists() and any(p.name != CACHE_FILE for p in out.iterdir()):
        raise UsageError(f"out: {out} is not empty; choose an empty folder")
    if kind == "vlguard-p":
        samples = load_vlguard_train(source)
    else:
        samples = list(load(source, splits=list(splits) if splits else None).samples)
    if not samples:
        raise DataError(f"{source}: no samples")
    rewrites: dict[str, str] = {}
    if kind in REWRITTEN:
        todo = samples if kind == "sorry-prefix" else [
            s for s in samples if not str(s.metadata.get("original_question") or "").strip()]
        if todo and not rewrite_model:
            what = ("an LLM rewrites each label" if kind == "sorry-prefix" else
                    f"{len(todo)} samples have no metadata 'original_question' (e.g. {todo[0].uid})")
            raise UsageError(f"{kind}: {what}; pass --rewrite-model (any inspect model, e.g. "
                             "openai/gpt-4o-2024-11-20) or 'offline' for a deterministic stand-in")
        if todo:
            out.mkdir(parents=True, exist_ok=True)
            rewrites = _rewrite_all(todo, kind, Rewriter(rewrite_model or "", base_url=rewrite_base_url),
                                    out / CACHE_FILE)
    refusals = read_template_lines(template if kind == "refusal" else None, "refusal.txt")
    with tempfile.TemporaryDirectory(prefix="mis-baseline-") as tmp:
        black = _black_png(Path(tmp), black_size) if kind == "black-image" else None
        variants = [s if kind == "vlguard-p" else
                    convert(s, kind, refusals=refusals, black=black, rewrite=rewrites.get(s.uid),
                            rewrite_model=rewrite_model) for s in samples]
        return write_mis_layout(variants, out, overwrite=out.exists())
