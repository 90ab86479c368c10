"""Command line of the sandbox: `python -m acrtransfer_sandbox up|down|status|serve|clock|push-large-image|
push-small-images|push-special-image|add-operator`."""
import argparse
import json
import sys
from pathlib import Path

from .runtime import bootstrap, operators, server
from .plumbing.config import SandboxConfig
from .runtime.trigger import clock_offset_file


def _add_cause_commands(commands) -> None:
    """Commands that set up what `check` must catch: a second principal, images with special layers."""
    operator = commands.add_parser("add-operator",
                                   help="add a service principal with a built-in role on the cloud's subscription "
                                        "(the sandbox must be running); prints {appId, password, tenant} as JSON")
    operator.add_argument("--cloud", choices=["source", "target"], default="source")
    operator.add_argument("--name", required=True)
    operator.add_argument("--role", required=True, help="a built-in role name, e.g. Reader or "
                                                        "'Container Registry Transfer Pipeline Contributor'")
    special = commands.add_parser("push-special-image",
                                  help="push an image with a foreign layer, or whose manifest declares a layer of "
                                       "N GiB (not stored); prints its digest")
    special.add_argument("--cloud", choices=["source", "target"], default="source")
    special.add_argument("--image", required=True, help="repository:tag")
    kind = special.add_mutually_exclusive_group(required=True)
    kind.add_argument("--foreign-layer", action="store_true")
    kind.add_argument("--declared-layer-gib", type=int, metavar="N")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m acrtransfer_sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start everything in the background, seed it, write the env files")
    up.add_argument("--wheel", type=Path, help="install this acrtransfer wheel into both clouds' az")
    commands.add_parser("down", help="stop every process of the sandbox (by PID)")
    commands.add_parser("status", help="PIDs of the sandbox's processes (null: not running)")
    commands.add_parser("serve", help="run the cloud fronts in the foreground (what `up` starts)")
    clock = commands.add_parser("clock", help="move the source trigger's clock (rehearse old blobs)")
    clock.add_argument("--advance-days", type=float, required=True, help="days ahead of real time; 0 resets")
    large = commands.add_parser("push-large-image",
                                help="push a generated image of about SIZE MiB (benchmarks, restart rehearsals)")
    large.add_argument("--cloud", choices=["source", "target"], default="source")
    large.add_argument("--image", default="large:latest", help="repository:tag")
    large.add_argument("--size-mb", type=int, default=256)
    small = commands.add_parser("push-small-images",
                                help="push COUNT one-layer images of distinct digests, tagged <tag-prefix><n> "
                                     "(batches of runs); prints reference -> digest as JSON")
    small.add_argument("--cloud", choices=["source", "target"], default="source")
    small.add_argument("--repository", required=True)
    small.add_argument("--count", type=int, required=True)
    small.add_argument("--tag-prefix", default="v")
    small.add_argument("--start", type=int, default=1, help="the first n")
    _add_cause_commands(commands)
    args = parser.parse_args(argv)
    config = SandboxConfig.from_environment()
    try:
        if args.command == "up":
            bootstrap.up(config, args.wheel)
        elif args.command == "down":
            bootstrap.down(config)
        elif args.command == "status":
            print(json.dumps(bootstrap.status(config), indent=2))
        elif args.command == "serve":
            server.main(config)
        elif args.command == "push-large-image":
            print(bootstrap.push_large(config.cloud(args.cloud), args.image, args.size_mb))
        elif args.command == "push-small-images":
            print(json.dumps(bootstrap.push_small(config.cloud(args.cloud), args.repository, args.count,
                                                  args.tag_prefix, args.start), indent=2))
        elif args.command == "add-operator":
            print(json.dumps(operators.add_operator(config, config.cloud(args.cloud), args.name, args.role)))
        elif args.command == "push-special-image":
            print(bootstrap.push_special(config.cloud(args.cloud), args.image, args.foreign_layer,
                                         args.declared_layer_gib))
        elif args.command == "clock":
            path = clock_offset_file(config)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(str(args.advance_days))
            print(f"source trigger clock: real time + {args.advance_days} days")
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
