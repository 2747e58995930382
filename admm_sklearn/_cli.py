"""Command line: ``python -m admm_sklearn compare|plan --help``."""

import argparse

from . import _compare, _plan

#: command -> (module with ``add_arguments(parser)`` and ``run_command(args)``, help)
COMMANDS = {
    "compare": (_compare, "cross-validate the ADMM estimator against the MLP's"),
    "plan": (_plan, "memory and seconds per sweep for P MPI ranks"),
}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m admm_sklearn")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, text) in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=text))
    args = parser.parse_args(argv)
    return COMMANDS[args.command][0].run_command(args)
