"""A co-process for scripts/bench/run structured: echoes each item line after a
skewed delay (every 10th item 50 ms, the others 5 ms)."""
import sys
import time

for line in sys.stdin:
    n = int(line.split("-")[1])
    time.sleep(0.05 if n % 10 == 0 else 0.005)
    sys.stdout.write(line)
    sys.stdout.flush()
