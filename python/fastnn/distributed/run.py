"""``python -m fastnn.distributed.run --nproc-per-node N script.py [args]``: torchrun's command line for one
node, over mpiexec. Each rank gets torchrun's RANK / LOCAL_RANK / WORLD_SIZE / LOCAL_WORLD_SIZE variables.
Several nodes: use mpiexec directly with its host options (``mpiexec -n 8 -hosts a,b python script.py``)."""
from __future__ import annotations

import argparse
import sys

from ._mpiexec import launch


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m fastnn.distributed.run",
                                description="Run a script on N processes of this node over MPI (torchrun's "
                                            "options for one node).")
    p.add_argument("--nproc-per-node", "--nproc_per_node", dest="nproc", default="1",
                   help="processes to start (an int, or 'cpu' for one per core)")
    p.add_argument("--nnodes", default="1", help="only 1 (several nodes: mpiexec with its host options)")
    p.add_argument("--standalone", action="store_true", help="accepted: a single node needs no rendezvous")
    p.add_argument("-m", "--module", action="store_true", help="run the target as a module (python -m)")
    p.add_argument("target", nargs=argparse.REMAINDER, help="the script (or module) and its arguments")
    args = p.parse_args(argv)
    if str(args.nnodes) not in ("1", "1:1"):
        p.error(f"--nnodes={args.nnodes}: only one node here; for several, run mpiexec with its host options")
    if args.nproc == "cpu":
        import os
        args.nproc = str(os.cpu_count() or 1)
    try:
        args.nproc = int(args.nproc)
    except ValueError:
        p.error(f"--nproc-per-node must be an int or 'cpu', got {args.nproc!r}")
    return args


def main(argv=None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    return launch(args.nproc, args.target, module=args.module)


if __name__ == "__main__":
    sys.exit(main())
