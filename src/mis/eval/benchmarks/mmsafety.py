"""MM-SafetyBench (isXinLiu/MM-SafetyBench): 13 scenario files, SD / SD_TYPO / TYPO images.

``data/processed_questions/<scenario>.json`` is a JSON object keyed by string ids; each value has
``Question``, ``GPT-Pred``, ``Changed Question``, ``Key Phrase``, ``Phrase Type``,
``Rephrased Question`` and ``Rephrased Question(SD)``. Images (a separate archive) live where the README puts
them, ``data/imgs/<scenario>/<type>/<id>.jpg``; ``imgs/`` and the archive's own top folder
``MM-SafetyBench(imgs)/`` are searched too. Pairing (official README): SD -> ``Rephrased Question(SD)``;
SD_TYPO and TYPO -> ``Rephrased Question``. The paper evaluates SD_TYPO (1,680) with Llama Guard.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mis.data._schema import Sample
from mis.errors import DataError
from mis.eval.benchmarks._common import (
    ImageRelease,
    fail,
    image_root,
    read_json,
    register_release,
    resolve_source,
)
from mis.eval.benchmarks._guarded import GuardOptions, guarded

SCENARIOS: tuple[str, ...] = (
    "01-Illegal_Activitiy",
    "02-HateSpeech",
    "03-Malware_Generation",
    "04-Physical_Harm",
    "05-EconomicHarm",
    "06-Fraud",
    "07-Sex",
    "08-Political_Lobbying",
    "09-Privacy_Violence",
    "10-Legal_Opinion",
    "11-Financial_Advice",
    "12-Health_Consultation",
    "13-Gov_Decision",
)
KEYS = (
    "Question",
    "Changed Question",
    "Key Phrase",
    "Phrase Type",
    "Rephrased Question",
    "Rephrased Question(SD)",
)
TEXT_FOR = {"SD": "Rephrased Question(SD)", "SD_TYPO": "Rephrased Question", "TYPO": "Rephrased Question"}
#: Where the image archive may have been unpacked, relative to the repository; the README's place first.
#: ``MM-SafetyBench(imgs)`` is the archive's own top folder (unzipped beside ``data/`` or in ``data/imgs``).
IMAGE_FOLDERS = (
    "data/imgs",
    "imgs",
    "data/imgs/MM-SafetyBench(imgs)",
    "data/MM-SafetyBench(imgs)",
    "MM-SafetyBench(imgs)",
)
RELEASE = ImageRelease(
    "data/imgs",
    "unzip MM-SafetyBench(imgs).zip (the Google Drive link in its README) so that the 13 scenario folders "
    "are in data/imgs",
)
register_release("mm_safetybench", RELEASE)


def _questions_dir(root: Path) -> Path:
    for rel in ("data/processed_questions", "processed_questions", "."):
        d = root / rel
        if d.is_dir() and any(d.glob("*.json")) and any((d / f"{sc}.json").is_file() for sc in SCENARIOS):
            return d
    raise DataError(f"{root}: no MM-SafetyBench question files (data/processed_questions/<scenario>.json)")


def _repository(root: Path, questions: Path) -> Path:
    """The release folder holding ``data/processed_questions`` (whichever of its folders was given)."""
    if questions.name == "processed_questions":
        return questions.parent.parent if questions.parent.name == "data" else questions.parent
    return root


def load_mmsafety(
    source: str | Path,
    *,
    image_type: str = "SD_TYPO",
    scenarios: list[str] | None = None,
    tiny: bool = False,
) -> list[Sample]:
    """MM-SafetyBench samples of one image type (split = the type, id = ``<scenario>/<key>``).

    Args:
        source: the repository folder (``data/processed_questions`` + ``imgs``) or the questions folder.
        image_type: ``SD_TYPO`` (the paper's setting), ``SD`` or ``TYPO``.
        scenarios: a subset of the 13 scenario keys (exact spelling, typos included).
        tiny: keep only the ids of ``TinyVersion_ID_List.json`` (168).

    """
    if image_type not in TEXT_FOR:
        raise ValueError(f"image_type={image_type!r}: expected one of {sorted(TEXT_FOR)}")
    root = resolve_source(source)
    qdir = _questions_dir(root)
    repo = _repository(root, qdir)
    chosen = list(scenarios) if scenarios else [sc for sc in SCENARIOS if (qdir / f"{sc}.json").is_file()]
    unknown = [sc for sc in chosen if sc not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenario(s) {unknown}; expected keys like {SCENARIOS[0]!r}")
    keep: dict[str, set[str]] | None = None
    if tiny:
        tiny_file = next(
            (
                p
                for p in (repo / "TinyVersion_ID_List.json", root / "TinyVersion_ID_List.json")
                if p.is_file()
            ),
            None,
        )
        if tiny_file is None:
            raise DataError(f"{root}: TinyVersion_ID_List.json not found (needed for tiny=True)")
        keep = {e["Scenario"]: {str(i) for i in e["Sampled_ID_List"]} for e in read_json(tiny_file)}
    samples: list[Sample] = []
    for sc in chosen:
        path = qdir / f"{sc}.json"
        data = read_json(path)
        if not isinstance(data, dict):
            raise fail(path, "(file)", "(root)", "expected a JSON object keyed by string ids")
        for key, rec in data.items():
            if keep is not None and key not in keep.get(sc, set()):
                continue
            if not isinstance(rec, dict):
                raise fail(path, key, "(record)", "expected an object")
            for field in KEYS:
                if not isinstance(rec.get(field), str):
                    raise fail(path, key, field, "missing or not a string")
            samples.append(
                Sample(
                    id=f"{sc}/{key}",
                    split=image_type,
                    question=rec[TEXT_FOR[image_type]],
                    images=[f"{sc}/{image_type}/{key}.jpg"],
                    category=sc,
                    metadata={
                        "scenario": sc,
                        "key": key,
                        "original_question": rec["Question"],
                        "key_phrase": rec["Key Phrase"],
                        "phrase_type": rec["Phrase Type"],
                        "judge_user_text": rec[TEXT_FOR[image_type]],
                    },
                )
            )
    folder = image_root([repo / rel for rel in IMAGE_FOLDERS], (s.images[0] for s in samples))
    return [s.model_copy(update={"root": folder}) for s in samples]


@dataclass(frozen=True)
class MMSafetyOptions(GuardOptions):
    """MM-SafetyBench's own options."""

    image_type: str = "SD_TYPO"
    """SD_TYPO (the paper's setting, 1,680), SD or TYPO."""
    tiny: bool = False
    """Only the ids of TinyVersion_ID_List.json (168)."""


MM_SAFETYBENCH = guarded(
    "mm_safetybench",
    "MM-SafetyBench SD+TYPO (1,680): query-relevant images; Llama Guard 3 ASR.",
    lambda data, o: load_mmsafety(data, image_type=o.image_type, tiny=o.tiny),
    MMSafetyOptions,
)
