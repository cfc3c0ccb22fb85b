"""Generation throughput of the `hfvlm/` provider: batched (one padded forward pass) vs one by one.

    .venv/bin/python perf/hfvlm_batching.py [--arch idefics3] [--samples 32] [--batch-size 8]
        [--max-tokens 16]

Both modes run the same two-image chats through inspect's `get_model("hfvlm/...")` on a tiny model
built offline by `mis.models.tiny`; the baseline is `batch_size=1` (what the authors' scripts do: one
request at a time). Prints wall time, samples/s and the batched / one-by-one ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="idefics3")
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()

    import torch
    from inspect_ai.model import ChatMessageUser, ContentImage, ContentText, GenerateConfig, get_model
    from inspect_ai.util import materialize_media
    from PIL import Image

    import mis._registry  # noqa: F401  (registers hfvlm)
    from mis.models import make_tiny_model

    torch.manual_seed(0)
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
        rows = []
        for label, batch_size in (("one by one", 1), (f"batched ({args.batch_size})", args.batch_size)):
            model = get_model(f"hfvlm/{model_dir}", config=config, batch_size=batch_size, memoize=False)

            async def run(m=model) -> None:
                await asyncio.gather(*(m.generate(chat) for chat in chats))

            asyncio.run(run())  # warm-up: first forward pass allocates
            start = time.perf_counter()
            asyncio.run(run())
            elapsed = time.perf_counter() - start
            rows.append((label, elapsed, args.samples / elapsed))
    print(f"arch={args.arch} samples={args.samples} max_tokens={args.max_tokens} "
          f"threads={torch.get_num_threads()}")
    print(f"{'mode':<16}{'wall s':>10}{'samples/s':>12}")
    for label, elapsed, rate in rows:
        print(f"{label:<16}{elapsed:>10.2f}{rate:>12.2f}")
    print(f"ratio batched / one-by-one samples/s: {rows[1][2] / rows[0][2]:.2f}x")


if __name__ == "__main__":
    main()
