"""Generation throughput of the `hfvlm/` provider: batched (one padded forward pass) vs one by one.

    .venv/bin/python perf/hfvlm_batching.py [--arch idefics3] [--samples 32] [--batch-size 8]
        [--max-tokens 16] [--repeats 5] [--threads N]

Both modes run the same two-image chats through inspect's `get_model("hfvlm/...")` on a tiny model
built offline by `mis.models.tiny`; the baseline is `batch_size=1` (what the authors' scripts do: one
request at a time). After one warm-up pass per mode, the two modes are timed `--repeats` times,
interleaved (one by one, batched, one by one, ...), so a load spike hits both; prints min / median /
max of each, the ratio of the medians, and the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import interleaved, load_average  # noqa: E402 - perf/ is not a package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="idefics3")
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()

    import torch
    from inspect_ai.model import ChatMessageUser, ContentImage, ContentText, GenerateConfig, get_model
    from inspect_ai.util import materialize_media
    from PIL import Image

    import mis._registry  # noqa: F401  (registers hfvlm)
    from mis.models import make_tiny_model

    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model_dir = make_tiny_model(root / "model", args.arch, seed=0)
        images = []
        for name, colour in (("a.png", "red"), ("b.png", "blue")):
            Image.new("RGB", (64, 64), colour).save(root / name)
            images.append(asyncio.run(materialize_media(str(root / name))))  # data URI, as inspect sends
        chats = [
            [ChatMessageUser(content=[ContentImage(image=images[0]), ContentImage(image=images[1]),
                                      ContentText(text=f"Question {i}: what do the two images show?")])]
            for i in range(args.samples)
        ]
        config = GenerateConfig(max_tokens=args.max_tokens)
        modes = {"one by one": 1, f"batched ({args.batch_size})": args.batch_size}
        models = {label: get_model(f"hfvlm/{model_dir}", config=config, batch_size=size, memoize=False)
                  for label, size in modes.items()}

        def timed(label: str) -> float:
            async def run() -> None:
                await asyncio.gather(*(models[label].generate(chat) for chat in chats))

            start = time.perf_counter()
            asyncio.run(run())
            return args.samples / (time.perf_counter() - start)

        for label in modes:
            timed(label)  # warm-up: the first forward pass allocates
        series = interleaved({label: (lambda label=label: timed(label)) for label in modes}, args.repeats)
    after = load_average()
    print(f"arch={args.arch} samples={args.samples} max_tokens={args.max_tokens} "
          f"threads={torch.get_num_threads()} repeats={args.repeats} (interleaved)")
    print(f"before: {before}; after: {after}")
    for label, s in series.items():
        print(f"{label:<16} samples/s min / median / max: {s.spread('', 2)}")
    base, batched = series.values()
    print(f"ratio of medians, batched / one-by-one samples/s: {batched.median / base.median:.2f}x")


if __name__ == "__main__":
    main()
