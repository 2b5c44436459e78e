"""One handler invocation in a fresh process (the benchmark measures this process's peak RSS).

`python -m bench.run_handler naive|lake-ingest RESULT_FILE`, configured through the environment;
writes {"seconds": handler time, "result": what the handler returned} to RESULT_FILE.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    impl, result_file = sys.argv[1], sys.argv[2]
    if impl == "naive":
        from bench.naive_handler import lambda_handler
    else:
        from lake_ingest.handler import lambda_handler
    from lake_ingest.__main__ import LocalContext

    context = LocalContext("bench", 900.0)
    started = time.perf_counter()
    result = lambda_handler({"run_id": f"bench-{impl}"}, context)
    seconds = time.perf_counter() - started
    with open(result_file, "w") as handle:
        json.dump({"seconds": seconds, "result": result}, handle)


if __name__ == "__main__":
    main()
