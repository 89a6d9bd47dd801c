#!/usr/bin/env python3
"""The same pipeline as sluice's passthrough bench, in the Python asyncio seed pattern.

    asyncio_pipeline.py IN OUT [--workers 10] [--maxsize 100]

One producer reads IN line by line into an asyncio.Queue(maxsize=100); 10 consumer tasks
take items and write them to OUT; one poison pill (None) per consumer, queued behind the
last line, stops them; asyncio.TaskGroup owns the tasks (a failure in one cancels the
others and comes back as an ExceptionGroup). This is the pattern people write before they
reach for a daemon, so it is the baseline sluice must beat by a wide margin.
"""

import argparse
import asyncio
import sys


async def producer(path: str, queue: asyncio.Queue, consumers: int) -> int:
    n = 0
    with open(path, "rb") as f:
        for line in f:
            await queue.put(line)
            n += 1
    for _ in range(consumers):  # poison pills, behind the last real item
        await queue.put(None)
    return n


async def consumer(queue: asyncio.Queue, out) -> int:
    n = 0
    while True:
        item = await queue.get()
        try:
            if item is None:
                return n
            out.write(item)  # the "work": passthrough
            n += 1
        finally:
            queue.task_done()


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--workers", type=int, default=10)
    ap.add_argument("--maxsize", type=int, default=100)
    args = ap.parse_args()

    queue: asyncio.Queue = asyncio.Queue(maxsize=args.maxsize)
    with open(args.output, "wb") as out:
        async with asyncio.TaskGroup() as tg:
            prod = tg.create_task(producer(args.input, queue, args.workers))
            cons = [tg.create_task(consumer(queue, out)) for _ in range(args.workers)]
    read = prod.result()
    written = sum(c.result() for c in cons)
    if read != written:
        print(f"asyncio_pipeline: read {read} lines, wrote {written}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if sys.version_info < (3, 11):
        sys.exit("asyncio_pipeline: needs Python 3.11+ (asyncio.TaskGroup)")
    sys.exit(asyncio.run(main()))
