"""``python -m fastnn.distributed.launch -n N script.py [args]``: mpiexec's spelling of the same launcher as
``fastnn.distributed.run`` (torchrun's variables set on each rank)."""
from __future__ import annotations

import argparse
import sys

from ._mpiexec import launch


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fastnn.distributed.launch",
                                description="Run a script on N processes over MPI.")
    p.add_argument("-n", "-np", "--nproc", dest="nproc", type=int, default=1, help="processes to start")
    p.add_argument("-m", "--module", action="store_true", help="run the target as a module (python -m)")
    p.add_argument("target", nargs=argparse.REMAINDER, help="the script (or module) and its arguments")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    return launch(args.nproc, args.target, module=args.module)


if __name__ == "__main__":
    sys.exit(main())
