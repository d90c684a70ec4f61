"""`recon-carla train il|rl|student|eval`: imitation pre-training, decoupled PPO, DAgger distillation of the camera
student, and held-out scoring (see recon_carla_bridge.rl)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` sub-command."""
    parser = subparsers.add_parser("train", help="train a driving policy in reconstructed scenes: imitation (il), "
                                                 "PPO against DAA adversaries (rl), distil the camera student (student), "
                                                 "or score checkpoints (eval)")
    parser.add_argument("stage", choices=("il", "rl", "student", "eval"))
    parser.add_argument("--config", required=True, help="YAML config (configs/rl/*.yaml)")
    parser.add_argument("--out", default=None, help="output folder (default: the config's train.out_dir)")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config value (YAML syntax), e.g. --set train.num_envs=32 "
                             "--set ppo.learning_rate=1e-4; repeatable, checked like the file")
    parser.add_argument("--resume", action="store_true", help="go on from the stage's last checkpoint in the output folder")
    parser.add_argument("--init", default=None, help="rl: start from this checkpoint (default: OUT/il.pt when it exists)")
    parser.add_argument("--workers", type=int, default=0,
                        help="rl: rollout workers as Ray actors (0: rollouts in this process)")
    parser.add_argument("--ray-address", default=None, help="rl: join this Ray cluster (default: a local Ray)")
    parser.add_argument("--checkpoints", nargs="*", default=[], metavar="NAME=PATH",
                        help="eval: policies to score (default: il=OUT/il.pt rl=OUT/rl.pt)")
    parser.add_argument("--students", nargs="*", default=[], metavar="NAME=PATH",
                        help="eval: camera students to score on the same draws (the env renders its front camera)")
    parser.add_argument("--episodes", type=int, default=40, help="eval: held-out episodes")
    parser.add_argument("--expert", action="store_true", help="eval: also score the privileged expert")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the stage; errors in the input are one line naming the file or key."""
    from recon_carla_bridge.errors import InputError, ReconCarlaError
    from recon_carla_bridge.rl.config import load_rl_config

    try:
        overrides = parse_settings(args.settings)
        if args.out:
            overrides.setdefault("train", {})["out_dir"] = args.out
        if args.stage == "student":
            from recon_carla_bridge.rl.distill import load_student_config, train_student

            config, distill = load_student_config(args.config, overrides)
            print(json.dumps({"checkpoint": str(train_student(config, distill, args.resume, progress=not args.quiet))}))
            return 0
        config = load_rl_config(args.config, overrides)
        if args.stage == "il":
            from recon_carla_bridge.rl.train import train_il

            print(json.dumps({"checkpoint": str(train_il(config, args.resume, progress=not args.quiet))}))
        elif args.stage == "rl":
            from recon_carla_bridge.rl.train import train_rl

            if args.workers < 0:
                raise InputError(f"--workers must be >= 0, got {args.workers}")
            path = train_rl(config, args.resume, args.init, progress=not args.quiet, workers=args.workers,
                            ray_address=args.ray_address)
            print(json.dumps({"checkpoint": str(path)}))
        else:
            return _evaluate(config, args)
    except ReconCarlaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def parse_settings(settings: list[str]) -> dict[str, dict[str, object]]:
    """`--set SECTION.KEY=VALUE` options as {section: {key: value}}, each value read as YAML (numbers, booleans,
    lists); InputError naming the malformed option."""
    import yaml

    from recon_carla_bridge.errors import InputError

    overrides: dict[str, dict[str, object]] = {}
    for setting in settings:
        name, equals, text = setting.partition("=")
        section, dot, key = name.partition(".")
        if not equals or not dot or not section or not key:
            raise InputError(f"--set {setting}: expected SECTION.KEY=VALUE (e.g. train.num_envs=32)")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise InputError(f"--set {setting}: the value is not YAML ({error})") from None
        overrides.setdefault(section, {})[key] = value
    return overrides


def _named(pair: str, option: str) -> tuple[str, str]:
    from recon_carla_bridge.errors import InputError

    if "=" not in pair:
        raise InputError(f"{option}: expected NAME=PATH, got '{pair}'")
    name, path = pair.split("=", 1)
    return name, path


def _evaluate(config, args: argparse.Namespace) -> int:
    from recon_carla_bridge.rl.checkpoint import interface_of, load_checkpoint
    from recon_carla_bridge.rl.env import ReconDrivingEnv
    from recon_carla_bridge.rl.evaluation import (evaluate, expert_driver, policy_driver, ratio_text, student_driver,
                                                  with_student_camera)

    out = Path(config.train.out_dir)
    pairs = args.checkpoints or [f"il={out / 'il.pt'}", f"rl={out / 'rl.pt'}"]
    students = [(name, load_checkpoint(path)) for name, path in (_named(p, "--students") for p in args.students)]
    if students:  # the env renders the students' camera; the privileged policies read the same state as before
        config = with_student_camera(config, students[0][1][1])
    env = ReconDrivingEnv(config)
    interface = interface_of(env)
    env.close()
    drivers = {}
    if students:  # the camera is there for the students only
        interface = {**interface, "images": {k: v for k, v in interface["images"].items() if k != "camera"}}
    for pair in pairs:
        name, path = _named(pair, "--checkpoints")
        drivers[name] = policy_driver(load_checkpoint(path, interface)[0].eval())
    for name, (policy, data) in students:
        drivers[name] = student_driver(policy.eval(), env.layout, data["interface"], name)
    if args.expert:
        drivers["expert"] = expert_driver
    results = evaluate(config, drivers, args.episodes, seed=config.train.seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / "heldout.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    table = ratio_text(results, list(drivers))
    (out / "heldout.md").write_text(table + "\n", encoding="utf-8")
    print(table)
    return 0
