"""evaluate_model.py --compare: several runs of one data set compared by how well their categories of the same
test images agree (agreement.py). A run is a run folder, an exported model folder or a saved category file (a
.npy of integers, E's most probable category of each test image in test-file order: (N,) for one categorical
variable, (N, V) for V; inputs.test_categories writes that form). Everything that can be wrong with the
inputs short of reading the test set is found before TensorFlow is imported."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bidirectional_infogan.runs.run_folder import RunFolderError


@dataclass
class Source:
    """One run of the comparison, as given on the command line."""

    name: str  # the path as given
    path: Path
    categories: np.ndarray | None  # (N, V) from a category file; None for a folder until it is encoded
    dataset: str | None = None  # a folder's data set and categorical variables (a file's are not known)
    categorical_dims: tuple | None = None
    description: str = "category file"

    @property
    def n_variables(self) -> int:
        return self.categories.shape[1] if self.categories is not None else len(self.categorical_dims)


def read_category_file(path: Path) -> np.ndarray:
    """A saved category file as an int64 array (N, V); a RunFolderError if it is not one."""
    try:
        categories = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise RunFolderError(f"{path} is not a category file (a .npy of integers, shape (N,) or (N, V)): "
                             f"{str(err).splitlines()[0] if str(err) else type(err).__name__}") from None
    if not isinstance(categories, np.ndarray) or categories.dtype.kind not in "iu" or categories.ndim not in (1, 2):
        what = f"{categories.dtype} array of shape {categories.shape}" if isinstance(categories, np.ndarray) else \
            "not a single array"
        raise RunFolderError(f"{path} is not a category file: it holds a {what}, not integers of shape (N,) or "
                             f"(N, V)")
    if categories.size == 0 or categories.min() < 0:
        raise RunFolderError(f"{path} is not a category file: it is empty or holds negative categories")
    return categories.astype(np.int64).reshape(len(categories), -1)


def check_sources(paths, iteration: int | None) -> list[Source]:
    """The runs to compare, checked without TensorFlow: at least two, each given once, each a category file or a
    run folder with a checkpoint (of `iteration`, if given) or an exported folder; one data set, one layout of
    categorical variables, category files of one length. A RunFolderError says what is wrong."""
    from bidirectional_infogan.evaluate.inputs import model_source
    if len(paths) < 2:
        raise RunFolderError(f"--compare needs at least two runs to compare; got only {paths[0]}")
    sources = []
    for name in paths:
        path = Path(name).expanduser()
        if any(source.path.resolve() == path.resolve() for source in sources):
            raise RunFolderError(f"{name} is given twice; give each run once")
        if not path.exists():
            raise RunFolderError(f"{name} does not exist")
        if path.is_dir():
            run, checkpoint, exported_iteration = model_source(path, iteration)
            description = (f"run folder, iteration {checkpoint[0]}" if checkpoint else
                           f"exported model, iteration {exported_iteration}")
            sources.append(Source(name, path, None, run.model.dataset, tuple(run.model.categorical_dims),
                                  description))
        else:
            sources.append(Source(name, path, read_category_file(path)))
    folders, files = [s for s in sources if s.categories is None], [s for s in sources if s.categories is not None]
    if len({s.dataset for s in folders}) > 1:
        raise RunFolderError("runs of different data sets: " + ", ".join(f"{s.name} ({s.dataset})" for s in folders))
    if len({s.categorical_dims for s in folders}) > 1 or len({s.n_variables for s in sources}) > 1:
        raise RunFolderError("runs of different layouts of categorical variables: " + ", ".join(
            f"{s.name} ({_layout(s)})" for s in sources))
    if len({len(s.categories) for s in files}) > 1:
        raise RunFolderError("category files of different lengths: " + ", ".join(
            f"{s.name} ({len(s.categories)} images)" for s in files))
    if folders:
        sizes = np.array(folders[0].categorical_dims)
        for source in files:
            if np.any(source.categories.max(axis=0) >= sizes):
                raise RunFolderError(f"{source.name} holds categories up to {list(source.categories.max(axis=0))}, "
                                     f"but the runs' categorical variables have {list(sizes)} values")
    return sources


def _layout(source: Source) -> str:
    if source.categorical_dims is not None:
        return f"categorical variables of {', '.join(map(str, source.categorical_dims))} values"
    return f"{source.n_variables} categorical variable{'s' if source.n_variables > 1 else ''}"


def compare(sources: list[Source], iteration: int | None, data_dir, json_path: Path | None, say) -> dict:
    """Encode the folders' test images (a run folder's codes come from its cache when it holds them), compare
    all runs, print the table and write --json."""
    from bidirectional_infogan.evaluate import agreement
    from bidirectional_infogan.evaluate.inputs import categories_of, folder_inputs
    for source in sources:
        if source.categories is None:
            inputs = folder_inputs(source.path, iteration, data_dir, say)
            source.categories = categories_of(inputs).astype(np.int64)
            source.description = f"{source.description.split(',')[0]}, iteration {inputs.iteration}"
            say(f"{source.name}: {inputs.origin}")
    lengths = {len(s.categories) for s in sources}
    if len(lengths) > 1:
        raise RunFolderError("the runs do not have categories of the same test images: " + ", ".join(
            f"{s.name} ({len(s.categories)} images)" for s in sources))
    report = agreement.compare_runs([s.categories for s in sources], [s.name for s in sources])
    for run, source in zip(report["runs"], sources):
        run["source"] = source.description
    for line in agreement.agreement_lines(report):
        say(line)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2) + "\n")
        say(f"wrote {json_path}")
    return report
