"""What the training scripts share: the command-line flags, new runs and resumed runs, and one-line errors.

A training script calls `main(dataset)` with its data set's entry of datasets.py (defaults, its own flags,
help texts, how to build the model config and load the data).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shlex
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from bidirectional_infogan.model.config import (ACTIVATIONS, AUGMENTATIONS, BALANCE_TARGETS, CATEGORICAL_PRIORS,
                                                D_BATCH_STATISTICS, INITIALISATIONS, PRECISIONS, ConfigError,
                                                RunConfig, TrainConfig)
from bidirectional_infogan.runs.run_folder import (RunFolderError, create_run_folder, list_checkpoints,
                                                   load_run_config, lock_run_folder, record_command,
                                                   write_run_files)
from bidirectional_infogan.util.tf_setup import describe_device, import_tensorflow
from bidirectional_infogan.util.arguments import (OneLineErrorParser, non_negative_float, non_negative_int,
                                                  positive_float, positive_int, seed_int, unit_interval)
from bidirectional_infogan.runs.errors import USER_ERRORS, TrainingError

if TYPE_CHECKING:
    from bidirectional_infogan.datasets import Dataset


# Flags that only change logging or where the data are read from; a resumed run may change them. --precision is
# not one of them: a run keeps the arithmetic it was started in (docs/training.md, "Precision").
LOOP_FLAGS = ("log_every", "checkpoint_every", "scalars_every", "keep_checkpoints", "stop_after")
RESUMABLE_FLAGS = LOOP_FLAGS + ("data_dir",)
# Flags added after run folders were made, with the value such an old run trained with (its config.json
# lacks them); a resume compares and continues with these.
OLD_RUN_FLAGS = {"recipe": None, "op_determinism": "on", "d_batch_statistics": "separate", "consistency_weight": 0.0,
                 "consistency_augment": TrainConfig.consistency_augment, "consistency_shear": 0.0,
                 "balance_weight": 0.0, "confidence_weight": 0.0,
                 "real_terms_variables": 0, "categorical_prior": TrainConfig.categorical_prior,
                 "prior_floor": TrainConfig.prior_floor, "balance_target": TrainConfig.balance_target,
                 "d_r1": 0.0, "precision": "float32"}


def build_parser(dataset: Dataset) -> argparse.ArgumentParser:
    d = dataset.defaults
    parser = OneLineErrorParser(
        prog=f"train_{dataset.name}.py", description=textwrap.fill(dataset.description, 100, break_on_hyphens=False),
        epilog="\n".join(textwrap.fill(line, 100) for line in dataset.epilog.splitlines()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    # Every flag defaults to None so that we can tell which ones the user gave (for --resume).
    parser.add_argument("--recipe", type=_recipe_name(dataset), metavar="NAME",
                        help="a named set of the flags below, schedule included; a flag given as well overrides "
                             "the recipe's value. " + " ".join(
                                 f"'{r.name}': {r.summary}" + (f" ({r.flags_text()})." if r.values else ".")
                                 for r in dataset.recipes.values()) + " (default: paper)")
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
    opt.add_argument("--d_batch_statistics", choices=D_BATCH_STATISTICS,
                     help="how batch norm in D sees real and generated pairs in training: 'separate' (the "
                          "original) calls D once per kind, each call normalised with its own batch's "
                          "statistics; 'joint' calls D once on both, with shared statistics, so that D can "
                          "tell the two apart by what the batches differ in (default "
                          f"{d['d_batch_statistics']})")
    opt.add_argument("--precision", choices=PRECISIONS,
                     help="arithmetic of the networks' hidden layers: 'float32' (the paper's); 'mixed_bfloat16' "
                          "(bfloat16 math, float32 weights, losses and batch-norm statistics: faster on CPUs with "
                          "bfloat16 units, such as AVX512_BF16 or AMX, and on GPUs); 'mixed_float16' (the same in "
                          "float16 with dynamic loss scaling: for GPUs, slow on CPUs); a resumed run keeps its "
                          f"precision (docs/training.md) (default {d['precision']})")
    opt.add_argument("--op_determinism", choices=("on", "off"),
                     help="'on': TensorFlow's deterministic kernels, so that a run repeats and resumes "
                          "bitwise on the same machine and software; 'off': possibly faster on a GPU, but runs "
                          f"are no longer bitwise repeatable; a resumed run keeps its setting (default "
                          f"{d['op_determinism']})")
    opt_in = parser.add_argument_group("opt-in terms (each 0 by default: the paper's step; docs/recipes.md)")
    opt_in.add_argument("--consistency_weight", type=non_negative_float,
                        help="weight of a term that makes E give a real image and an augmented copy of it the "
                             "same categorical value, so that the categorical code cannot follow what the "
                             f"augmentation changes (default {d['consistency_weight']})")
    opt_in.add_argument("--consistency_augment", choices=AUGMENTATIONS,
                        help="the augmentation of --consistency_weight: 'colour' (channel order, inversion, "
                             "gain, contrast, brightness), 'geometric' (rotation up to 12 degrees, scale 0.9-1.1, "
                             f"shift up to 2 pixels) or 'both' (default {d['consistency_augment']})")
    opt_in.add_argument("--consistency_shear", type=non_negative_float, metavar="S",
                        help="the geometric copies of --consistency_weight also slanted by a shear drawn from "
                             "[-S, S] (0.3: about one standard deviation of the slant of MNIST digits), so that the "
                             f"categorical code cannot follow the slant (default {d['consistency_shear']}: none)")
    opt_in.add_argument("--balance_weight", type=non_negative_float,
                        help="weight of a term that makes E use every value of each categorical variable equally "
                             f"often on each batch of real images (default {d['balance_weight']})")
    opt_in.add_argument("--confidence_weight", type=non_negative_float,
                        help="weight of a term that makes E sure of the categorical value of each real image "
                             "(the mean entropy of its prediction); with --balance_weight at the same weight, "
                             f"the mutual information of code and image on real data (default "
                             f"{d['confidence_weight']})")
    opt_in.add_argument("--real_terms_variables", type=non_negative_int, metavar="N",
                        help="the three terms above act on the first N categorical variables only, leaving the "
                             "others free to take other factors (default "
                             f"{d['real_terms_variables']}: on all of them)")
    opt_in.add_argument("--categorical_prior", choices=CATEGORICAL_PRIORS,
                        help="how G draws the values of the categorical variables that the real-image terms act "
                             "on: 'uniform' (the paper: each equally often) or 'learned' (as often as E finds them "
                             "in the real images: a moving average of E's mean prediction, over about 100 "
                             "batches), for data whose classes are not equally common (default "
                             f"{d['categorical_prior']})")
    opt_in.add_argument("--prior_floor", type=non_negative_float, metavar="F",
                        help="with --categorical_prior learned, every value keeps at least F / K of the prior, "
                             "so that it cannot collapse onto one value; with --balance_target floor, the share "
                             f"F / K under which E's use of a value is penalised (default {d['prior_floor']})")
    opt_in.add_argument("--balance_target", choices=BALANCE_TARGETS,
                        help="what --balance_weight makes E's mean prediction on real images equal: 'uniform' "
                             "or 'learned' (the learned prior; needs --categorical_prior learned); or 'floor': "
                             "only values used less than --prior_floor / K are penalised, so that classes of "
                             f"unequal frequency can keep them (default {d['balance_target']})")
    opt_in.add_argument("--d_r1", type=non_negative_float, metavar="GAMMA",
                        help="R1 gradient penalty on D: GAMMA / 2 times the squared gradient of D's logit with "
                             f"respect to the real pairs (default {d['d_r1']})")
    net = parser.add_argument_group("networks")
    net.add_argument("--num_z", type=positive_int, help=f"size of the noise vector z (default {d['num_z']})")
    for role, name in (("d", "D"), ("g", "G"), ("e", "E")):
        net.add_argument(f"--{role}_activation", choices=ACTIVATIONS,
                         help=f"activation of {name}'s hidden layers (default {d[role + '_activation']})")
    net.add_argument("--init", choices=INITIALISATIONS,
                     help="weight initialisation of D and E: 'original' reproduces the original code "
                          "(stddev sqrt(2 / kernel height) for convolutions), 'he' is true He "
                          f"initialisation, sqrt(2 / fan_in) (default {d['init']})")
    dataset.add_arguments(parser)
    run = parser.add_argument_group("data, logging and checkpoints")
    run.add_argument("--data_dir", help=dataset.data_dir_help)
    run.add_argument("--validation_size", type=positive_int,
                     help="images held out of training for the figures of the validation set: the first N "
                          "training images (MNIST, SVHN) or of the validation partition (CelebA) "
                          f"(default {d['validation_size']})")
    run.add_argument("--log_dir", help=f"runs are written to LOG_DIR/{dataset.name}/{dataset.name}_<timestamp> "
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


def _recipe_name(dataset: Dataset):
    """The argparse type of --recipe: a recipe of this data set, or a one-line error naming them."""
    def parse(name: str) -> str:
        if name not in dataset.recipes:
            raise argparse.ArgumentTypeError(f"'{name}' is not a recipe of train_{dataset.name}.py; its recipes: "
                                             f"{', '.join(dataset.recipes)}")
        return name
    return parse


def resolve_flags(dataset: Dataset, given: dict) -> dict:
    """Every flag of a new run: the data set's defaults (the paper's), then the recipe's values, then the flags
    given on the command line."""
    recipe = dataset.recipes[given.get("recipe", "paper")]
    return {**dataset.defaults, **recipe.values, **given, "recipe": recipe.name}


def recipe_lines(dataset: Dataset, given: dict) -> list[str]:
    """What a recipe set and which of its values the given flags override, for the run's first lines."""
    recipe = dataset.recipes[given.get("recipe", "paper")]
    if not recipe.values:
        return []
    lines = [f"Recipe {recipe.name}: {recipe.flags_text()}"]
    overridden = [name for name in recipe.values if name in given and given[name] != recipe.values[name]]
    if overridden:
        lines.append("  overridden by the flags given: " + ", ".join(
            f"--{name} {given[name]} (recipe: {recipe.values[name]})" for name in overridden))
    return lines


def build_run(dataset: Dataset, flags: dict) -> RunConfig:
    """The RunConfig that the flag values describe (validated)."""
    train = TrainConfig(batch_size=flags["batch_size"], lr_d=flags["lr_d"], lr_g=flags["lr_g"],
                        beta1_d=flags["beta1_d"], beta1_g=flags["beta1_g"], lr_red=flags["lr_red"],
                        max_iter=flags["max_iter"], info_weight=flags["info_weight"], seed=flags["seed"],
                        validation_size=flags["validation_size"], d_batch_statistics=flags["d_batch_statistics"],
                        consistency_weight=flags["consistency_weight"],
                        consistency_augment=flags["consistency_augment"],
                        consistency_shear=flags["consistency_shear"], balance_weight=flags["balance_weight"],
                        confidence_weight=flags["confidence_weight"],
                        real_terms_variables=flags["real_terms_variables"],
                        categorical_prior=flags["categorical_prior"], prior_floor=flags["prior_floor"],
                        balance_target=flags["balance_target"], d_r1=flags["d_r1"],
                        precision=flags["precision"])
    train.validate()
    model = dataset.build_model_config(flags)
    model.validate()
    if train.real_terms_variables > len(model.categorical_dims):
        count = len(model.categorical_dims)
        raise ConfigError(f"--real_terms_variables {train.real_terms_variables} asks for more categorical "
                          f"variables than this model's {count}")
    loop = {name: flags.get(name) for name in LOOP_FLAGS}
    return RunConfig(model=model, train=train, data=dataset.data_options(flags), loop=loop, flags=flags)


def _resumed_run(dataset: Dataset, run_dir: str, given: dict) -> RunConfig:
    saved = load_run_config(run_dir)
    saved = dataclasses.replace(saved, flags={**OLD_RUN_FLAGS, **saved.flags})
    if saved.model.dataset != dataset.name:
        raise RunFolderError(f"{run_dir} is a {saved.model.dataset} run, not a {dataset.name} run")
    changed = [name for name, value in given.items()
               if name not in RESUMABLE_FLAGS and name != "resume" and saved.flags.get(name) != value]
    if changed:
        name = changed[0]
        raise ConfigError(f"--resume continues a run with its saved settings, but --{name} {given[name]} "
                          f"differs from the run's {saved.flags.get(name)} (only "
                          f"{', '.join('--' + f for f in RESUMABLE_FLAGS)} may change)")
    saved_flags = {k: v for k, v in saved.flags.items() if k != "stop_after"}  # a stop applies once
    flags = {**dataset.defaults, **saved_flags, **given}
    flags.pop("resume", None)
    run = build_run(dataset, flags)
    if (run.model, run.train) != (saved.model, saved.train):
        raise ConfigError(f"the settings in {run_dir}/config.json do not match its flags; resume refused")
    return run


def _is_whole(prefix: str, iteration: int) -> bool:
    """Whether a checkpoint reads back whole (every tensor's checksum); imports TensorFlow."""
    import_tensorflow()
    from bidirectional_infogan.runs.checkpoints import CheckpointError, verify_checkpoint
    try:
        verify_checkpoint(prefix, iteration)
    except CheckpointError:
        return False
    return True


def main(dataset: Dataset, argv=None) -> int:
    """Parse the flags, then train a new run or resume one. Returns the exit code."""
    with contextlib.ExitStack() as held:  # the run folder's lock, released when main returns
        return _main(dataset, argv, held)


def _main(dataset: Dataset, argv, held: contextlib.ExitStack) -> int:
    parser = build_parser(dataset)
    args = parser.parse_args(argv)
    given = {name: value for name, value in vars(args).items() if value is not None}
    for name in ("data_dir", "cache_dir"):  # stored absolute, so that --resume and evaluation work from anywhere
        if name in given:
            given[name] = str(Path(given[name]).expanduser().resolve())
    try:
        # Everything that can be wrong with the input is checked before TensorFlow is imported.
        if args.resume:
            run_dir = Path(args.resume).expanduser()
            run = _resumed_run(dataset, args.resume, given)
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
            run = build_run(dataset, resolve_flags(dataset, given))
            for line in recipe_lines(dataset, given):
                print(line, flush=True)
        data = dataset.load_training_data(run.data, run.train.validation_size)
        if run.train.batch_size > len(data.train_images):
            raise ConfigError(f"--batch_size {run.train.batch_size} is larger than the "
                              f"{len(data.train_images)} training images")
        import_tensorflow()
        if not args.resume:
            run = dataclasses.replace(run, device=describe_device())  # config.json records it
            run_dir = create_run_folder(run.flags["log_dir"], dataset.name)
            held.enter_context(lock_run_folder(run_dir))
            write_run_files(run_dir, run, run.flags)
        print(f"Run folder: {run_dir}", flush=True)
        from bidirectional_infogan.train.training import LoopSettings, TrainingDiverged, train
        from bidirectional_infogan.runs.checkpoints import CheckpointError, DiskFullError
        resume_command = shlex.join(["python", f"code/train_{dataset.name}.py", "--resume", str(run_dir)])
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
        except TrainingDiverged as err:
            precision = run.train.precision
            new_run = ("float16's narrow range may be the cause: start a new run with --precision mixed_bfloat16 or "
                       "float32, or with lower learning rates (--lr_d, --lr_g)" if precision == "mixed_float16"
                       else "start a new run with lower learning rates (--lr_d, --lr_g)")
            if err.last_good is None:
                raise TrainingError(f"{err} in precision {precision}; training stopped and nothing was saved; "
                                    f"{new_run}") from None
            evaluate = shlex.join(["python", "evaluate_model.py", "--model_dir", str(run_dir), "--evaluate"])
            raise TrainingError(f"{err} in precision {precision}; training stopped without saving; the last good "
                                f"checkpoint is iteration-{err.last_good} (evaluate it with: {evaluate}); a --resume "
                                f"from it with the same settings would most likely diverge again: {new_run}") from None
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
