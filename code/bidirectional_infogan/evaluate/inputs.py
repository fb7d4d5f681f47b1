"""What every mode of evaluate_model.py works from (the model, the test set and E's codes of it, the
mapping of categories to classes) and what each returns (values, figures, lines)."""

from __future__ import annotations

import argparse
import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bidirectional_infogan.evaluate import evaluation
from bidirectional_infogan.model.config import ModelConfig, RunConfig
from bidirectional_infogan.data.common import TestSet
from bidirectional_infogan.model.latent import LatentParts, split_latent
from bidirectional_infogan.evaluate.pretrained import check_exported_folder, is_exported_folder
from bidirectional_infogan.runs.run_folder import RunFolderError, choose_checkpoint, load_run_config


class EncodingsError(ValueError):
    """An encodings.txt that is not a permutation of the categories."""


def parse_encodings(text: str, n_classes: int, source: str = "encodings.txt") -> list[int]:
    """Parse 'c0,c1,...' (or one value per line): entry i is the category that encodes class i; must be a
    permutation of 0..n-1."""
    entries = [e.strip() for e in re.split(r"\s*,\s*|\s*\n\s*", text.strip())]
    if entries == [""]:
        raise EncodingsError(f"{source} is empty; it needs {n_classes} comma-separated categories "
                             f"(entry i = the category that encodes digit i)")
    values = []
    for position, entry in enumerate(entries):
        if entry == "":
            raise EncodingsError(f"{source}: entry {position} is empty")
        try:
            values.append(int(entry))
        except ValueError:
            raise EncodingsError(f"{source}: entry {position} ('{entry}') is not an integer") from None
    if len(values) != n_classes:
        raise EncodingsError(f"{source} has {len(values)} entries; it needs {n_classes} "
                             f"(entry i = the category that encodes digit i)")
    for position, value in enumerate(values):
        if not 0 <= value < n_classes:
            raise EncodingsError(f"{source}: entry {position} is {value}; categories are 0..{n_classes - 1}")
    for value in set(values):
        positions = [i for i, v in enumerate(values) if v == value]
        if len(positions) > 1:
            raise EncodingsError(f"{source}: category {value} appears more than once (entries "
                                 f"{', '.join(map(str, positions))}); each category encodes one digit")
    return values


MISCLASSIFIED_NEEDS = ("--misclassified needs a run with one categorical variable that classifies the test labels "
                       "(MNIST)")


@dataclass
class Request:
    """The checked arguments, with what checking them found: the run's config and which model to load."""

    args: argparse.Namespace
    run_dir: Path
    run: RunConfig
    checkpoint: tuple[int, str] | None  # (iteration, prefix) in a run folder; None for an exported folder
    exported_iteration: int | None  # an exported folder's iteration (from its results.json)
    json_path: Path | None


@dataclass
class Inputs:
    """A trained model at one checkpoint (or an exported one), the test set and E's codes of it."""

    run_dir: Path
    cfg: ModelConfig
    model: object  # encode(images) and generate(codes): model.BidirectionalInfoGAN or pretrained.ExportedModel
    iteration: int | None
    test: TestSet
    codes: np.ndarray
    parts: LatentParts
    origin: str  # the line that says which model it is and where the codes came from


@dataclass
class Classes:
    """An MNIST-like run (one categorical variable with at least as many values as the test set has classes):
    its categories mapped to the classes, as a classifier."""

    probabilities: np.ndarray  # the categorical variable's softmax, (N, n_categories)
    categories: np.ndarray  # the most probable category of each test image
    mapping: dict
    mapping_source: str  # "encodings.txt" or MAPPING_FROM_LABELS
    predicted: np.ndarray  # the class of each test image under the mapping


MAPPING_FROM_LABELS = "test labels (Hungarian algorithm)"


def load_inputs(request: Request, say=print) -> Inputs:
    """Load the test set and the model, and encode the test set (a run folder caches the codes)."""
    from bidirectional_infogan.runs.checkpoints import model_from_checkpoint
    from bidirectional_infogan.evaluate.code_cache import cached_test_codes
    from bidirectional_infogan.evaluate.evaluation_data import load_test_set
    from bidirectional_infogan.evaluate.pretrained import ExportedModel

    run, run_dir, data_dir = request.run, request.run_dir, request.args.data_dir
    if request.checkpoint is None:
        # An exported model (scripts/run_tools/export_pretrained.py): its .keras files, no checkpoints, no code cache.
        # The data folder in its config.json is the training machine's: the data set's default location
        # (MNIST and SVHN: the download cache) or --data_dir instead.
        data = {k: v for k, v in run.data.items() if k not in ("data_dir", "cache_dir")}
        test = load_test_set(dataclasses.replace(run, data=data), data_dir)
        model, iteration = ExportedModel(run_dir, run.model), request.exported_iteration
        codes = model.encode(test.images)
        origin = f"Exported model: iteration {iteration} (test set encoded)"
    else:
        from bidirectional_infogan.runs.checkpoints import intact_checkpoint
        asked = request.args.iteration
        iteration, prefix = intact_checkpoint(run_dir, asked, say)  # a damaged newest one is skipped, saying so
        test = load_test_set(run, data_dir)
        model = model_from_checkpoint(run, prefix)
        codes, cached = cached_test_codes(model, run_dir, iteration, test.images)
        origin = f"Checkpoint: iteration {iteration} ({'test codes from the cache' if cached else 'test set encoded'})"
    return Inputs(run_dir, run.model, model, iteration, test, codes, split_latent(run.model, codes), origin)


def model_source(folder: Path, iteration: int | None = None):
    """(run config, checkpoint, exported iteration) of a run folder (checkpoint: (iteration, prefix), the newest
    by default) or of an exported folder (checkpoint None), checked without TensorFlow: a RunFolderError says
    what is wrong (no config.json, no checkpoint of that iteration, an exported folder that lacks a file)."""
    run = load_run_config(folder)
    if is_exported_folder(folder):
        return run, None, check_exported_folder(folder, iteration).get("iteration")
    return run, choose_checkpoint(folder, iteration), None


def folder_inputs(folder, iteration: int | None = None, data_dir=None, say=None) -> Inputs:
    """load_inputs for a run folder or an exported folder given by its path (for tools other than
    evaluate_model.py's modes); a checkpoint that does not read back is a RunFolderError."""
    from bidirectional_infogan.runs.checkpoints import CheckpointError
    folder = Path(folder).expanduser()
    run, checkpoint, exported_iteration = model_source(folder, iteration)
    args = argparse.Namespace(iteration=iteration, data_dir=data_dir)
    try:
        return load_inputs(Request(args, folder, run, checkpoint, exported_iteration, None), say)
    except CheckpointError as err:
        raise RunFolderError(str(err)) from None


def categories_from_codes(cfg: ModelConfig, codes: np.ndarray) -> np.ndarray:
    """E's most probable value of each categorical variable, from E's codes (N, latent_dim): uint8 (N, V), the
    saved form of a model's test categories."""
    if max(cfg.categorical_dims) > 256:
        raise RunFolderError("a categorical variable of more than 256 values does not fit the uint8 categories")
    return np.stack([block.argmax(axis=1) for block in split_latent(cfg, codes).categorical], axis=1).astype(np.uint8)


def categories_of(inputs: Inputs) -> np.ndarray:
    """E's most probable value of each categorical variable for every test image: uint8 (N, V)."""
    return categories_from_codes(inputs.cfg, inputs.codes)


def test_categories(folder, iteration: int | None = None, data_dir=None) -> np.ndarray:
    """The saved form of a model's test categories: uint8 (N, V), E's most probable value of each of its V
    categorical variables for every test image, in test-file order (labels are not read). `folder`: a run
    folder (checkpoint `iteration`, by default the newest that reads back whole; E's codes come from the
    run's code cache when it holds them) or an exported model folder; `data_dir` as evaluate_model.py's."""
    return categories_of(folder_inputs(folder, iteration, data_dir))


test_categories.__test__ = False  # not a test, though pytest would collect it by its name where imported


def read_classes(inputs: Inputs) -> Classes | None:
    """The run as a classifier of the test labels (None if it is not MNIST-like): categories mapped to classes
    by RUN_DIR/encodings.txt, or else by the best one-to-one mapping on the test labels."""
    cfg, test = inputs.cfg, inputs.test
    if not (len(cfg.categorical_dims) == 1 and test.labels is not None and cfg.categorical_dims[0] >= test.n_classes):
        return None
    probabilities = inputs.parts.categorical[0]
    categories = probabilities.argmax(axis=1)
    path = inputs.run_dir / "encodings.txt"
    if path.is_file():
        encodings = parse_encodings(path.read_text(), test.n_classes, str(path))
        mapping, source = evaluation.mapping_from_encodings(encodings), "encodings.txt"
    else:
        mapping = evaluation.hungarian_mapping(categories, test.labels, cfg.categorical_dims[0], test.n_classes)
        source = MAPPING_FROM_LABELS
    return Classes(probabilities, categories, mapping, source, evaluation.apply_mapping(categories, mapping))


def mapping_note(inputs: Inputs, classes: Classes) -> str:
    """What to say when the categories were mapped to classes on the test labels."""
    path = inputs.run_dir / "encodings.txt"
    encodings = evaluation.encodings_from_mapping(classes.mapping, inputs.test.n_classes)
    return (f"No {path.name} in {inputs.run_dir}: mapping categories to digits with the Hungarian "
            f"algorithm on the test labels:\n  {','.join(map(str, encodings))}\n"
            f"  (encodings.txt form: entry i = the category that encodes digit i; save it as "
            f"{path} to fix the mapping)")


@dataclass
class Figure:
    name: str  # file name in the output folder
    grid: np.ndarray
    note: str = ""  # printed after the line that names the written file


@dataclass
class Outcome:
    values: dict = field(default_factory=dict)  # for --json
    figures: list[Figure] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # printed after the figures are written
