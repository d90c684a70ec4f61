"""`recon-carla train-restorer --pairs PAIRS.npz --out DIR`: train the diffusion restorer of splat renders."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train-restorer` sub-command."""
    parser = subparsers.add_parser(
        "train-restorer",
        help="train the video-diffusion restorer of splat renders on (render, real frame) pairs",
        description="Train the restorer (recon_carla_bridge.restore) on pair files made by tools/make_restorer_pairs.py; "
        "frames that are multiples of --val-every are the validation split. Writes the best restorer by validation "
        "PSNR to OUT (config.json, restorer.safetensors) and the latest state to OUT/checkpoint (--resume continues "
        "it). CUDA when present, else the CPU.",
    )
    parser.add_argument("--pairs", action="append", required=True, help="pair .npz file (repeatable)")
    parser.add_argument("--out", required=True, help="output restorer folder")
    parser.add_argument("--steps", type=int, default=2000, help="most optimisation steps (default 2000)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop after this many minutes")
    parser.add_argument("--batch", type=int, default=4, help="rows per step (default 4)")
    parser.add_argument("--crop-width", type=int, default=128, help="training crop width in pixels, 0: full frames (default 128)")
    parser.add_argument("--lr", type=float, default=5e-4, help="peak learning rate (default 5e-4)")
    parser.add_argument("--channels", default="32,64,96", help="UNet channels per level (default 32,64,96)")
    parser.add_argument("--timesteps", default="199", help="denoising timesteps, largest first, 1-4 of them (default 199: one step)")
    parser.add_argument("--no-previous", action="store_true", help="no temporal input (an image restorer)")
    parser.add_argument("--val-every", type=int, default=10, help="frames that are multiples of this validate (default 10)")
    parser.add_argument("--validate-every", type=int, default=100, help="steps between validations and checkpoints")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=handler)


def _integers(text: str, flag: str) -> tuple[int, ...]:
    from recon_carla_bridge.errors import InputError

    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise InputError(f"{flag} {text!r}: expected comma-separated integers") from None
    if not values:
        raise InputError(f"{flag}: expected at least one integer")
    return values


def handler(args: argparse.Namespace) -> int:
    """Train; returns the exit code."""
    import torch

    from recon_carla_bridge.errors import InputError
    from recon_carla_bridge.restore.config import RestorerConfig
    from recon_carla_bridge.restore.pairs import PairSet
    from recon_carla_bridge.restore.training import TrainOptions, train_restorer

    if args.steps < 1 or args.batch < 1 or args.val_every < 2 or args.validate_every < 1:
        raise InputError("--steps, --batch, --validate-every must be at least 1 and --val-every at least 2")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    pairs = PairSet.concatenate([PairSet.load(path) for path in args.pairs])
    width, height = pairs.size
    config = RestorerConfig(width, height, block_out_channels=_integers(args.channels, "--channels"),
                            timesteps=_integers(args.timesteps, "--timesteps"), use_previous=not args.no_previous)
    options = TrainOptions(steps=args.steps, max_minutes=args.max_minutes, batch=args.batch, crop_width=args.crop_width,
                           lr=args.lr, val_every=args.val_every, validate_every=args.validate_every, seed=args.seed,
                           device=args.device)
    print(f"train-restorer: {len(pairs.frame)} pairs at {width}x{height} from {len(pairs.passes)} render passes")
    metrics = train_restorer(pairs, config, options, args.out, resume=args.resume)
    last = metrics["history"][-1]
    print(f"wrote {args.out}: {metrics['steps']} steps in {metrics['seconds']} s on {metrics['device']}; validation PSNR "
          f"raw {last['raw_psnr']:.2f} -> restored {last['psnr']:.2f} dB (best {metrics['best_validation_psnr']:.2f})")
    return 0
