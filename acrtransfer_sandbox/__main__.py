"""Command line of the sandbox: `python -m acrtransfer_sandbox up|down|status|serve|clock|push-*|add-operator`."""
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m acrtransfer_sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start everything in the background, seed it, write the env files")
    up.add_argument("--wheel", type=Path, help="install this acrtransfer wheel into both clouds' az")
    commands.add_parser("down", help="stop every process of the sandbox (by PID)")
    commands.add_parser("status", help="PIDs of the sandbox's processes (null: not running)")
    commands.add_parser("serve", help="run the cloud fronts in the foreground (what `up` starts)")
    clock = commands.add_parser("clock", help="move the source trigger's clock (rehearse old blobs)")
    clock.add_argument("--advance-days", type=float, required=True, help="days ahead of real time; 0 resets")
    _add_push_commands(commands)
    _add_cause_commands(commands)
    return parser


def _add_push_commands(commands) -> None:
    """The commands that put images (and what refers to them) into a cloud's registry."""
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
    referrer = commands.add_parser("push-referrer",
                                   help="push a signature, SBOM or attestation of an image; prints the referrer as "
                                        "REPO@sha256:... on its last line")
    referrer.add_argument("--cloud", choices=["source", "target"], default="source")
    referrer.add_argument("--subject", required=True, help="the image: REPO:TAG or REPO@sha256:...")
    referrer.add_argument("--artifact-type", required=True,
                          help="a media type, e.g. application/vnd.cncf.notary.signature, application/spdx+json")
    referrer.add_argument("--scheme", choices=["api", "cosign"], default="api",
                          help="api: an OCI manifest whose subject is the image (the referrers API lists it); cosign: "
                               "a manifest under the tag sha256-<hex>.sig (.sbom, .att by the artifact type)")


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = SandboxConfig.from_environment()
    except ValueError as exc:  # a setting the sandbox does not know: say which, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
        elif args.command == "push-referrer":
            print(bootstrap.push_referrer_to(config.cloud(args.cloud), args.subject, args.artifact_type, args.scheme))
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
