"""Malformed model output at any stage drops that record with a recorded reason; failures are retried."""

from __future__ import annotations

import json

from mis.build import config_from_dict, read_manifest, run_build
from mis.build._store import StageStore
from mis.data import validate
from mis.testing import ScriptedReply

from .conftest import scripted_config, scripted_reply, step_of, write_seeds

MISBEHAVE = {
    "case-1": "extract",
    "case-2": "refine",
    "case-3": "critic",
    "case-4": "text_safety",
    "case-5": "image_harm",
    "case-6": "label",
    "case-7": "label_judge",
}
STAGE_OF = {
    "extract": "extract",
    "refine": "refine",
    "critic": "render",
    "text_safety": "split",
    "image_harm": "split",
    "label": "label",
    "label_judge": "label",
}


def test_malformed_output_at_every_step_drops_with_reason(tmp_path, scripted_server):
    server = scripted_server(misbehave=MISBEHAVE)
    seeds = write_seeds(tmp_path / "seeds.jsonl", 8)
    out = tmp_path / "out"
    result = run_build(config_from_dict(scripted_config(tmp_path, server, seeds, out)))
    assert result.status == "complete", result.message

    manifest = read_manifest(out)
    by_tag: dict[str, list] = {}
    seed_tag = {
        json.loads(line)["query"].split("case-")[1].rstrip("."): None
        for line in seeds.read_text().splitlines()
    }
    assert len(seed_tag) == 8
    for entry in manifest.dropped:
        record = next(d for d in StageStore(out, entry.stage).dropped() if d["id"] == entry.id)["record"]
        text = json.dumps(record)
        tag = "case-" + text.split("case-")[1][0]
        by_tag.setdefault(tag, []).append(entry)
    for tag, step in MISBEHAVE.items():
        entries = by_tag.get(tag)
        assert entries, f"{tag}: nothing dropped for bad {step} output"
        assert {e.stage for e in entries} == {STAGE_OF[step]}
        for e in entries:
            assert e.code in ("malformed", "no_acceptable_label")
            assert step.split("_")[0] in e.reason, e.reason  # the reason names the step
    assert "case-8" not in by_tag
    # the two label-stage drops hit only the train question of their seed
    assert len(by_tag["case-6"]) == len(by_tag["case-7"]) == 1
    assert (
        by_tag["case-6"][0].code == "no_acceptable_label" and "section headers" in by_tag["case-6"][0].reason
    )
    # every drop is in the manifest and in the stage's dropped.jsonl; counts add up per stage
    for name, counts in manifest.stages.items():
        assert counts["dropped"] == len(StageStore(out, name).dropped()) == sum(counts["reasons"].values())
    assert validate(out) == []
    assert sum(manifest.final.values()) == manifest.stages["label"]["out"] == 2 * 8 - 1 * 2 - 2 * 4 - 2


def test_server_errors_leave_records_for_a_rerun(tmp_path, scripted_server):
    failing = {"on": True}  # the server is down for case-2's refine calls during the first run

    def chat(body):
        from mis.testing import message_text

        text = message_text(body)
        if step_of(text) == "refine" and "case-2" in text and failing["on"]:
            return ScriptedReply("rejected", status=400)  # not retried by the client: a quick test
        return scripted_reply(body)

    server = scripted_server(chat=chat)
    seeds = write_seeds(tmp_path / "seeds.jsonl", 2)
    cfg = config_from_dict(scripted_config(tmp_path, server, seeds, tmp_path / "out"))
    first = run_build(cfg)
    assert first.status == "incomplete" and "refine" in first.message
    assert (
        first.stages["refine"]["errors"] == 2 and not (tmp_path / "out" / "refine" / "_SUCCESS.json").exists()
    )
    assert not (tmp_path / "out" / "manifest.json").exists()
    failing["on"] = False
    second = run_build(cfg)
    assert second.status == "complete"
    assert second.stages["refine"] == {
        **second.stages["refine"],
        "in": 4,
        "out": 4,
        "dropped": 0,
        "errors": 0,
    }
