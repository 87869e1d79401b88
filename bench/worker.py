"""One bench family for one library at one thread count, in its own process: prints one JSON line."""
from __future__ import annotations

import argparse
import json
import sys


def library_info(lib: str) -> dict:
    if lib == "fastnn":
        import fastnn

        cfg = fastnn.config()
        return {"version": cfg["version"], "isa": cfg["isa"], "threads": fastnn.get_num_threads()}
    if lib == "numpy":
        import numpy as np

        info = {"version": np.__version__}
        try:
            from threadpoolctl import threadpool_info

            blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
            if blas:
                info["blas"] = (f"{blas[0].get('internal_api')} {blas[0].get('version')} "
                                f"({blas[0].get('architecture')} kernel, {blas[0].get('num_threads')} threads)")
        except ImportError:
            info["blas"] = "unknown (pip install threadpoolctl to report it)"
        return info
    import torch

    return {"version": torch.__version__, "threads": torch.get_num_threads()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("family")
    p.add_argument("lib")
    p.add_argument("threads", type=int)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.lib == "torch":
        import torch

        torch.set_num_threads(args.threads)
    if args.lib == "fastnn":
        import fastnn

        fastnn.set_num_threads(args.threads)
    if args.family == "limits":
        import limits

        result = {"limits": limits.measure(args.threads, args.quick)}
    else:
        # train_step.py keeps the name the nn issue gave it; every other family is bench_<family>.py
        module = __import__("train_step" if args.family == "train_step" else f"bench_{args.family}")
        result = {"rows": module.run(args.lib, args.quick)}
    result["info"] = library_info(args.lib)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
