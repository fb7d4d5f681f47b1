"""What the training scripts share: the command-line flags, new runs and resumed runs, and one-line errors.

A training script describes its data set with a `TrainingScript` (defaults, extra flags, how to build the
model config, how to load the data) and calls `main(script)`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shlex
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .config import ACTIVATIONS, INITIALISATIONS, ConfigError, ModelConfig, RunConfig, TrainConfig
from .data.common import DataError
from .run_folder import (RunFolderError, create_run_folder, list_checkpoints, load_run_config, lock_run_folder,
                         record_command, write_run_files)
from .tf_setup import describe_device, import_tensorflow

# Errors whose message is shown to the user as one line (no traceback), exit code 2.
USER_ERRORS = (ConfigError, DataError, RunFolderError)

# Flags that only change logging or where the data are read from; a resumed run may change them.
LOOP_FLAGS = ("log_every", "checkpoint_every", "scalars_every", "keep_checkpoints", "stop_after")
RESUMABLE_FLAGS = LOOP_FLAGS + ("data_dir",)
# Flags added after run folders were made, with the value such an old run trained with (its config.json
# lacks them); a resume compares and continues with these.
OLD_RUN_FLAGS = {"op_determinism": "on"}


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad argument gives a single line on stderr (and exit code 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _number(convert, accept, requirement: str):
    """An argparse type: `convert` the text, then check it with `accept`."""
    kind = "an integer" if convert is int else "a number"

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not {kind}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {value}")
        return value
    return parse


positive_int = _number(int, lambda v: v > 0, "a positive integer")
positive_float = _number(float, lambda v: v > 0, "positive")
unit_interval = _number(float, lambda v: 0 <= v < 1, "in [0, 1)")
non_negative_float = _number(float, lambda v: v >= 0, "at least 0")
seed_int = _number(int, lambda v: 0 <= v < 2 ** 32, f"in 0..{2 ** 32 - 1}")


@dataclass
class TrainingScript:
    """One data set's training script."""

    dataset: str
    description: str
    defaults: dict  # flag -> default value (every flag of the script)
    build_model_config: Callable[[dict], ModelConfig]
    load_data: Callable[[dict, int], object]  # (data options, validation size) -> training.TrainingData
    data_options: Callable[[dict], dict]  # flag values -> the data options stored in config.json
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    epilog: str = ""
    data_dir_help: str = "folder with the data set files"


COMMON_DEFAULTS = dict(
    batch_size=128, lr_d=1e-4, lr_g=5e-4, beta1_g=0.5, beta1_d=0.5, num_z=16, d_activation="elu",
    g_activation="elu", e_activation="elu", lr_red=5.0, max_iter=30000, seed=12345, info_weight=1.0,
    init="original", validation_size=5000, data_dir=None, log_dir="log_dir", log_every=5000, checkpoint_every=10000,
    scalars_every=100, keep_checkpoints=2, stop_after=None, op_determinism="on",
)


TABLE2_DEFAULTS = dict(
    COMMON_DEFAULTS, batch_size=32, lr_d=1e-4, lr_g=1e-4, num_z=64, num_categorical=4, categorical_values=10,
    num_continuous=4, d_noise=False,
)


def add_table2_arguments(parser: argparse.ArgumentParser, defaults: dict) -> None:
    """The latent-code and noise flags of the table-2 networks (CelebA, SVHN)."""
    group = parser.add_argument_group("latent code and noise (table 2)")
    group.add_argument("--num_categorical", type=positive_int,
                       help=f"number of categorical variables (default {defaults['num_categorical']})")
    group.add_argument("--categorical_values", type=positive_int,
                       help=f"values of each categorical variable (default {defaults['categorical_values']})")
    group.add_argument("--num_continuous", type=positive_int,
                       help=f"number of continuous variables (default {defaults['num_continuous']})")
    group.add_argument("--d_noise", action="store_true", default=None,
                       help="add table 1's Gaussian noise to D (stddev 0.3 after the first layer of each "
                            "branch, 0.5 after the others); table 2 has none, so it is off by default")


def table2_model_config_from_flags(dataset: str, flags: dict) -> ModelConfig:
    from .config import table2_model_config
    return table2_model_config(
        dataset, d_noise=bool(flags["d_noise"]), z_dim=flags["num_z"],
        categorical_dims=(flags["categorical_values"],) * flags["num_categorical"],
        continuous_dim=flags["num_continuous"], g_activation=flags["g_activation"],
        e_activation=flags["e_activation"], d_activation=flags["d_activation"], initialisation=flags["init"])


def build_parser(script: TrainingScript) -> argparse.ArgumentParser:
    d = script.defaults
    parser = OneLineErrorParser(
        prog=f"train_{script.dataset}.py", description=textwrap.fill(script.description, 100),
        epilog="\n".join(textwrap.fill(line, 100) for line in script.epilog.splitlines()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    # Every flag defaults to None so that we can tell which ones the user gave (for --resume).
    opt = parser.add_argument_group("optimisation (defaults: the paper's)")
    opt.add_argument("--batch_size", type=positive_int, help=f"images per iteration (default {d['batch_size']})")
    opt.add_argument("--lr_d", type=positive_float, help=f"Adam learning rate of D (default {d['lr_d']})")
    opt.add_argument("--lr_g", type=positive_float,
                     help=f"Adam learning rate of G and E, one optimiser for both (default {d['lr_g']})")
    opt.add_argument("--beta1_d", type=unit_interval, help=f"Adam beta1 of D (default {d['beta1_d']})")
    opt.add_argument("--beta1_g", type=unit_interval, help=f"Adam beta1 of G and E (default {d['beta1_g']})")
    opt.add_argument("--lr_red", type=positive_float,
                     help=f"learning rates decay (polynomial, power 0.5) to lr / lr_red by the last iteration "
                          f"(default {d['lr_red']})")
    opt.add_argument("--max_iter", type=positive_int, help=f"training iterations (default {d['max_iter']})")
    opt.add_argument("--seed", type=seed_int, help=f"seed of every random draw (default {d['seed']})")
    opt.add_argument("--info_weight", type=non_negative_float,
                     help=f"lambda, weight of the mutual-information terms in G's loss (default "
                          f"{d['info_weight']})")
    opt.add_argument("--op_determinism", choices=("on", "off"),
                     help="'on': TensorFlow's deterministic kernels, so that a run repeats and resumes "
                          "bitwise on the same machine and software; 'off': possibly faster on a GPU, but runs "
                          f"are no longer bitwise repeatable; a resumed run keeps its setting (default "
                          f"{d['op_determinism']})")
    net = parser.add_argument_group("networks")
    net.add_argument("--num_z", type=positive_int, help=f"size of the noise vector z (default {d['num_z']})")
    for role, name in (("d", "D"), ("g", "G"), ("e", "E")):
        net.add_argument(f"--{role}_activation", choices=ACTIVATIONS,
                         help=f"activation of {name}'s hidden layers (default {d[role + '_activation']})")
    net.add_argument("--init", choices=INITIALISATIONS,
                     help="weight initialisation of D and E: 'original' reproduces the original code "
                          "(stddev sqrt(2 / kernel height) for convolutions), 'he' is true He "
                          f"initialisation, sqrt(2 / fan_in) (default {d['init']})")
    script.add_arguments(parser)
    run = parser.add_argument_group("data, logging and checkpoints")
    run.add_argument("--data_dir", help=script.data_dir_help)
    run.add_argument("--validation_size", type=positive_int,
                     help="images held out of training for the figures of the validation set: the first N "
                          "training images (MNIST, SVHN) or of the validation partition (CelebA) "
                          f"(default {d['validation_size']})")
    run.add_argument("--log_dir", help=f"runs are written to LOG_DIR/{script.dataset}/{script.dataset}_<timestamp> "
                                       f"(default {d['log_dir']})")
    run.add_argument("--log_every", type=positive_int,
                     help=f"iterations between figures and the printed losses (default {d['log_every']})")
    run.add_argument("--scalars_every", type=positive_int,
                     help=f"iterations between TensorBoard scalars (default {d['scalars_every']})")
    run.add_argument("--checkpoint_every", type=positive_int,
                     help=f"iterations between checkpoints; the last iteration is always saved "
                          f"(default {d['checkpoint_every']})")
    run.add_argument("--keep_checkpoints", type=positive_int,
                     help=f"how many of the newest checkpoints to keep (default {d['keep_checkpoints']})")
    run.add_argument("--stop_after", type=positive_int, metavar="N",
                     help="stop after iteration N with a checkpoint, without finishing the schedule (the "
                          "learning rates still decay over --max_iter); continue later with --resume")
    run.add_argument("--resume", metavar="RUN_DIR",
                     help="continue the run in RUN_DIR from its last checkpoint, with its saved settings")
    return parser


def build_run(script: TrainingScript, flags: dict) -> RunConfig:
    """The RunConfig that the flag values describe (validated)."""
    train = TrainConfig(batch_size=flags["batch_size"], lr_d=flags["lr_d"], lr_g=flags["lr_g"],
                        beta1_d=flags["beta1_d"], beta1_g=flags["beta1_g"], lr_red=flags["lr_red"],
                        max_iter=flags["max_iter"], info_weight=flags["info_weight"], seed=flags["seed"],
                        validation_size=flags["validation_size"])
    train.validate()
    model = script.build_model_config(flags)
    model.validate()
    loop = {name: flags.get(name) for name in LOOP_FLAGS}
    return RunConfig(model=model, train=train, data=script.data_options(flags), loop=loop, flags=flags)


def _resumed_run(script: TrainingScript, run_dir: str, given: dict) -> RunConfig:
    saved = load_run_config(run_dir)
    saved = dataclasses.replace(saved, flags={**OLD_RUN_FLAGS, **saved.flags})
    if saved.model.dataset != script.dataset:
        raise RunFolderError(f"{run_dir} is a {saved.model.dataset} run, not a {script.dataset} run")
    changed = [name for name, value in given.items()
               if name not in RESUMABLE_FLAGS and name != "resume" and saved.flags.get(name) != value]
    if changed:
        name = changed[0]
        raise ConfigError(f"--resume continues a run with its saved settings, but --{name} {given[name]} "
                          f"differs from the run's {saved.flags.get(name)} (only "
                          f"{', '.join('--' + f for f in RESUMABLE_FLAGS)} may change)")
    saved_flags = {k: v for k, v in saved.flags.items() if k != "stop_after"}  # a stop applies once
    flags = {**script.defaults, **saved_flags, **given}
    flags.pop("resume", None)
    run = build_run(script, flags)
    if (run.model, run.train) != (saved.model, saved.train):
        raise ConfigError(f"the settings in {run_dir}/config.json do not match its flags; resume refused")
    return run


def _is_whole(prefix: str, iteration: int) -> bool:
    """Whether a checkpoint reads back whole (every tensor's checksum); imports TensorFlow."""
    import_tensorflow()
    from .checkpoints import CheckpointError, verify_checkpoint
    try:
        verify_checkpoint(prefix, iteration)
    except CheckpointError:
        return False
    return True


def main(script: TrainingScript, argv=None) -> int:
    """Parse the flags, then train a new run or resume one. Returns the exit code."""
    with contextlib.ExitStack() as held:  # the run folder's lock, released when main returns
        return _main(script, argv, held)


def _main(script: TrainingScript, argv, held: contextlib.ExitStack) -> int:
    parser = build_parser(script)
    args = parser.parse_args(argv)
    given = {name: value for name, value in vars(args).items() if value is not None}
    for name in ("data_dir", "cache_dir"):  # stored absolute, so that --resume and evaluation work from anywhere
        if name in given:
            given[name] = str(Path(given[name]).expanduser().resolve())
    try:
        # Everything that can be wrong with the input is checked before TensorFlow is imported.
        if args.resume:
            run_dir = Path(args.resume).expanduser()
            run = _resumed_run(script, args.resume, given)
            saved_iterations = list_checkpoints(run_dir)
            if not saved_iterations:
                raise RunFolderError(f"{run_dir} has no checkpoint to resume from")
            reached = max(saved_iterations)
            held.enter_context(lock_run_folder(run_dir))  # one writer at a time: refuse if a process holds it
            stop_after = run.loop.get("stop_after")
            # (a damaged newest checkpoint does not count: the resume falls back to an older one)
            if ((stop_after and stop_after <= reached) or reached >= run.train.max_iter) \
                    and _is_whole(saved_iterations[reached], reached):
                if stop_after and stop_after <= reached:
                    raise ConfigError(f"--stop_after {stop_after}: the run is already at iteration {reached}")
                print(f"{run_dir} is already finished (iteration {reached} of {run.train.max_iter}). Evaluate with: "
                      f"{shlex.join(['python', 'evaluate_model.py', '--model_dir', str(run_dir), '--evaluate'])}",
                      flush=True)
                return 0
        else:
            run = build_run(script, {**script.defaults, **given})
        data = script.load_data(run.data, run.train.validation_size)
        if run.train.batch_size > len(data.train_images):
            raise ConfigError(f"--batch_size {run.train.batch_size} is larger than the "
                              f"{len(data.train_images)} training images")
        import_tensorflow()
        if not args.resume:
            run = dataclasses.replace(run, device=describe_device())  # config.json records it
            run_dir = create_run_folder(run.flags["log_dir"], script.dataset)
            held.enter_context(lock_run_folder(run_dir))
            write_run_files(run_dir, run, run.flags)
        print(f"Run folder: {run_dir}", flush=True)
        from .training import LoopSettings, train
        from .checkpoints import CheckpointError, DiskFullError
        resume_command = shlex.join(["python", f"code/train_{script.dataset}.py", "--resume", str(run_dir)])
        try:
            # a resume goes into command.txt once it has restored a checkpoint, not when it fails before
            train(run, data, run_dir, LoopSettings(**run.loop), resume=bool(args.resume),
                  started=(lambda: record_command(run_dir)) if args.resume else None)
        except DiskFullError as err:
            last_good = (f"the last good checkpoint is iteration-{err.last_good}; free some space, then continue "
                         f"with: {resume_command}" if err.last_good is not None else "no checkpoint was saved")
            raise RunFolderError(f"{err}; {last_good}") from None
        except CheckpointError as err:
            raise RunFolderError(str(err)) from None
    except USER_ERRORS as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if run.loop.get("stop_after") and run.loop["stop_after"] < run.train.max_iter:
        print(f"Stopped after iteration {run.loop['stop_after']}. Continue with: {resume_command}", flush=True)
    else:
        print(f"Done. Evaluate with: "
              f"{shlex.join(['python', 'evaluate_model.py', '--model_dir', str(run_dir), '--evaluate'])}", flush=True)
    return 0
