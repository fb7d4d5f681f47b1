"""evaluate_model.py: accuracy of the categorical code on the test set, and the figures of a trained run."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path

import numpy as np

from . import evaluation
from .cli import USER_ERRORS, OneLineErrorParser, positive_int, seed_int
from .pretrained import check_exported_folder, is_exported_folder
from .run_folder import RunFolderError, choose_checkpoint, load_run_config
from .tf_setup import device_line, import_tensorflow

MODES = ("evaluate", "sample", "reconstruct", "generate", "misclassified")


def _check_can_make_folder(folder: Path) -> None:
    """Fail before the work, not after it, if `folder` cannot be a folder (it or a parent is a file)."""
    for existing in (folder, *folder.parents):
        if existing.exists():
            if not existing.is_dir():
                raise RunFolderError(f"{folder} cannot be made: {existing} is a file, not a folder")
            return


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


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="evaluate_model.py",
        description="Evaluate a trained Bidirectional-InfoGAN run: test accuracy of its categorical code and "
                    "the figures of the paper. Several modes may be given at once; figures go to "
                    "RUN_DIR/samples/ (this tool's output folder: its files are rewritten on each call).")
    parser.add_argument("--model_dir", required=True, metavar="RUN_DIR",
                        help="the run folder of a training run, or a folder made by scripts/export_pretrained.py "
                             "(encoder.keras, generator.keras, config.json)")
    parser.add_argument("--iteration", type=positive_int,
                        help="checkpoint to use (default: the latest in RUN_DIR/checkpoints)")
    modes = parser.add_argument_group("modes (at least one)")
    modes.add_argument("--evaluate", action="store_true",
                       help="MNIST: test accuracy under RUN_DIR/encodings.txt (entry i = the category that "
                            "encodes digit i); without that file, under the best one-to-one mapping found from "
                            "the test labels (Hungarian algorithm). Also NMI, ARI, purity, per-class accuracy "
                            "and the confusion matrix. SVHN: accuracy (best mapping) and NMI of each "
                            "categorical variable. CelebA: for each of the 40 attributes, the categorical value "
                            "or continuous variable that predicts it best, with its AUC")
    modes.add_argument("--sample", action="store_true",
                       help="MNIST: samples_categorical.png, 60 random test images per predicted digit (two "
                            "rows of 30 per digit, digits 0..9 from the top), and sample_cont_c<j>.png, per digit "
                            "a row of the 30 confidently classified "
                            "test images with the smallest value of continuous variable j, then a row with the "
                            "largest. CelebA, SVHN: samples_categorical_c<v>.png, row k = the 20 test images "
                            "most confidently given value k of categorical variable v, and sample_cont_c<j>.png, "
                            "two rows of the smallest values of continuous variable j, then two of the largest")
    modes.add_argument("--reconstruct", action="store_true",
                       help="samples_reconstruction.png: 20 random test images per digit (two rows of 10 pairs "
                            "per digit; CelebA: 20 rows of random test images), each followed by G(E(x)); prints "
                            "the mean squared reconstruction error beside that of random (x, G(E(x'))) pairs")
    modes.add_argument("--generate", action="store_true",
                       help="generated_imgs_categorical.png (CelebA, SVHN: one file per categorical variable, "
                            "_c<v>): 10x10 generated images, z and continuous values fixed per row, the "
                            "category 0..9 along the columns; "
                            "generated_imgs_cont_c<j>.png: continuous variable j swept from -2 to 2 along the "
                            "columns, one row per value of the first categorical variable")
    modes.add_argument("--misclassified", action="store_true",
                       help="misclassified.png (MNIST): every misclassified test image, grouped by true digit "
                            "(one block of rows each, labelled on the left), each marked with the digit the "
                            "model gave")
    other = parser.add_argument_group("options")
    other.add_argument("--json", metavar="PATH", help="also write every figure of --evaluate to this JSON file "
                                                      "(refuses to overwrite an existing file)")
    other.add_argument("--data_dir", help="folder of the data set (default: the one the run was trained on)")
    other.add_argument("--seed", type=seed_int, default=12345, help="seed of the random choices in the figures "
                                                               "(default 12345)")
    other.add_argument("--confidence", type=float, default=0.996,
                       help="--sample: softmax confidence above which an image counts as confidently "
                            "classified (default 0.996, as the original)")
    other.add_argument("--row_labels", action="store_true",
                       help="--sample: write in a margin on the left the categorical value of each row (MNIST: "
                            "rows are sorted by the digit the value stands for; '-' and '+' mark the rows of "
                            "small and large continuous values)")
    other.add_argument("--columns", type=positive_int,
                       help="images per row of the --sample figures (default 30, as the original) and pairs per "
                            "row of --reconstruct (default 10); smaller figures suit a README")
    other.add_argument("--output_dir", help="write the images here instead of RUN_DIR/samples (a folder that "
                                            "already holds PNG files is refused unless --overwrite is given)")
    other.add_argument("--overwrite", action="store_true", help="--output_dir: replace the PNG files there")
    return parser


class Evaluation:
    """One trained run at one checkpoint, with its test set and the test codes.

    MNIST-like runs (one categorical variable whose values match the classes) get the original's figures, with
    categories mapped to digits. Runs with several categorical variables (CelebA, SVHN) get figures per
    variable, and are scored per variable (SVHN digits) or per attribute (CelebA).
    """

    def __init__(self, run_dir: Path, iteration: int | None, data_dir, out, output_dir=None, columns=None):
        from .checkpoints import find_checkpoint, load_trained_model
        from .code_cache import cached_test_codes
        from .evaluation_data import load_test_set
        from .latent import split_latent
        from .pretrained import is_exported_folder, load_exported

        self.run_dir, self.out = run_dir, out
        self.run = load_run_config(run_dir)
        self.cfg = self.run.model
        if is_exported_folder(run_dir):
            # An exported model (scripts/export_pretrained.py): its .keras files, no checkpoints, no code cache.
            # The data folder in its config.json is the training machine's: the data set's default location
            # (MNIST and SVHN: the download cache) or --data_dir instead.
            data = {k: v for k, v in self.run.data.items() if k not in ("data_dir", "cache_dir")}
            self.test = load_test_set(dataclasses.replace(self.run, data=data), data_dir)
            self.model, self.iteration, _ = load_exported(run_dir)
            codes = self.model.encode(self.test.images)
            self.say(f"Exported model: iteration {self.iteration} (test set encoded)")
        else:
            iteration, _ = find_checkpoint(run_dir, iteration)
            self.test = load_test_set(self.run, data_dir)
            self.model, self.iteration, _ = load_trained_model(run_dir, iteration)
            codes, cached = cached_test_codes(self.model, run_dir, self.iteration, self.test.images)
            self.say(f"Checkpoint: iteration {self.iteration} "
                     f"({'test codes from the cache' if cached else 'test set encoded'})")
        self.codes = codes
        self.parts = split_latent(self.cfg, codes)
        self.n = self.test.n_classes
        self.classifier = (len(self.cfg.categorical_dims) == 1 and self.test.labels is not None
                           and self.cfg.categorical_dims[0] >= self.n)
        if self.classifier:
            self.probabilities = self.parts.categorical[0]
            self.categories = self.probabilities.argmax(axis=1)
            self.mapping, self.mapping_source = self._mapping()
            self.predicted = evaluation.apply_mapping(self.categories, self.mapping)
        self.samples_dir = Path(output_dir).expanduser() if output_dir else run_dir / "samples"
        self.columns = columns

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _mapping(self):
        path = self.run_dir / "encodings.txt"
        if path.is_file():
            encodings = parse_encodings(path.read_text(), self.n, str(path))
            return evaluation.mapping_from_encodings(encodings), "encodings.txt"
        mapping = evaluation.hungarian_mapping(self.categories, self.test.labels, self.cfg.categorical_dims[0],
                                               self.n)
        encodings = evaluation.encodings_from_mapping(mapping, self.n)
        self.say(f"No {path.name} in {self.run_dir}: mapping categories to digits with the Hungarian "
                 f"algorithm on the test labels:\n  {','.join(map(str, encodings))}\n"
                 f"  (encodings.txt form: entry i = the category that encodes digit i; save it as "
                 f"{path} to fix the mapping)")
        return mapping, "test labels (Hungarian algorithm)"

    def save(self, name: str, grid) -> None:
        from .visualization import save_png
        path = save_png(self.samples_dir / name, grid)
        self.say(f"wrote {path} ({grid.shape[1]}x{grid.shape[0]})")

    # --- --evaluate ----------------------------------------------------------------------------------
    def evaluate(self) -> dict:
        if self.classifier:
            return self._evaluate_classifier()
        if self.test.labels is not None:
            return self._evaluate_variables()
        return self._evaluate_attributes()

    def _evaluate_classifier(self) -> dict:
        report = evaluation.classification_report(self.categories, self.test.labels,
                                                  self.cfg.categorical_dims[0], self.n, self.mapping)
        report.update(iteration=self.iteration, mapping_source=self.mapping_source, n_test=len(self.test.labels))
        self.say(f"Accuracy: {report['accuracy']:.4f} ({len(self.test.labels) - report['errors']} of "
                 f"{len(self.test.labels)} test images; mapping from {self.mapping_source})")
        self.say(f"NMI: {report['nmi']:.4f}   ARI: {report['ari']:.4f}   purity: {report['purity']:.4f} "
                 f"(mapping-free)")
        self.say("Per-class accuracy: " + "  ".join(f"{k}: {a:.3f}"
                                                   for k, a in enumerate(report["per_class_accuracy"])))
        self.say("Confusion matrix (rows: true digit, columns: predicted digit):")
        self.say("       " + "".join(f"{k:>6}" for k in range(self.n)))
        for k, row in enumerate(report["confusion_matrix"]):
            self.say(f"  {k:>3}  " + "".join(f"{v:>6}" for v in row))
        return report

    def _evaluate_variables(self) -> dict:
        """SVHN: each categorical variable as a classifier of the digits, under its best mapping."""
        labels = self.test.labels
        self.say(f"Each categorical variable against the {len(labels)} test labels (best one-to-one mapping "
                 f"of its values to digits, Hungarian algorithm):")
        self.say(f"  {'variable':<9}{'accuracy':>9}{'NMI':>8}{'ARI':>8}{'purity':>8}  mapping (entry i = value "
                 f"for digit i)")
        variables = []
        for v, probabilities in enumerate(self.parts.categorical):
            values = probabilities.argmax(axis=1)
            n_values = probabilities.shape[1]
            mapping = evaluation.hungarian_mapping(values, labels, n_values, self.n)
            report = evaluation.classification_report(values, labels, n_values, self.n, mapping)
            report["variable"] = f"c{v + 1}"
            variables.append(report)
            encodings = ",".join(map(str, report["encodings"])) if report["encodings"] else "-"
            self.say(f"  c{v + 1:<8}{report['accuracy']:>9.4f}{report['nmi']:>8.4f}{report['ari']:>8.4f}"
                     f"{report['purity']:>8.4f}  {encodings}")
        return {"iteration": self.iteration, "n_test": len(labels), "variables": variables}

    def _evaluate_attributes(self) -> dict:
        """CelebA: for each attribute, the categorical value or continuous variable that predicts it best."""
        names, scores = [], []
        for v, probabilities in enumerate(self.parts.categorical):
            for k in range(probabilities.shape[1]):
                names.append(f"c{v + 1}={k}")
                scores.append(probabilities[:, k])
        for j in range(self.cfg.continuous_dim):
            for sign, label in ((1, "high"), (-1, "low")):
                names.append(f"cont{j + 1} {label}")
                scores.append(sign * self.parts.continuous[:, j])
        auc = evaluation.auc_matrix(np.stack(scores, axis=1), self.test.attributes)
        rows = []
        self.say(f"Best single predictor of each attribute on the {len(self.test.images)} test images "
                 f"(AUC; 0.5 = chance). cK=k: probability that categorical variable K takes value k; "
                 f"contJ high/low: the value of continuous variable J, large or small")
        self.say(f"  {'attribute':<22}{'positives':>10}  {'best predictor':<16}{'AUC':>7}")
        for a, name in enumerate(self.test.attribute_names):
            best = int(np.nanargmax(auc[a])) if not np.all(np.isnan(auc[a])) else 0
            share = float(self.test.attributes[:, a].mean())
            rows.append({"attribute": name, "positives": share, "best_predictor": names[best],
                         "auc": float(auc[a, best])})
        for row in sorted(rows, key=lambda r: -r["auc"]):
            self.say(f"  {row['attribute']:<22}{row['positives']:>9.1%}  {row['best_predictor']:<16}"
                     f"{row['auc']:>7.3f}")
        return {"iteration": self.iteration, "n_test": len(self.test.images), "attributes": rows,
                "predictors": names, "auc": auc.tolist()}

    # --- figures -------------------------------------------------------------------------------------
    def sample(self, confidence: float, row_labels: bool, rng) -> None:
        from . import figures
        from .visualization import add_row_labels
        h = self.test.images.shape[1]
        if not self.classifier:
            return self._sample_variables(row_labels)
        grid, _ = figures.samples_per_class(self.test.images, self.predicted, self.n, self.columns or 30, rng)
        # two rows per digit 0..9, labelled with the categorical value that stands for the digit
        values = [str(v) for v in evaluation.encodings_from_mapping(self.mapping, self.n)]
        if row_labels:
            grid = add_row_labels(grid, [label for v in values for label in (v, "")], h)
        self.save("samples_categorical.png", grid)
        top = self.probabilities.max(axis=1)
        per_row = self.columns or 30
        for j in range(self.cfg.continuous_dim):
            grid, smallest, largest = figures.continuous_extremes(
                self.test.images, self.predicted, top, self.parts.continuous[:, j], self.n, per_row, confidence)
            if row_labels:
                labels = [f"{value}{sign}" for value in values for sign in ("-", "+")]
                grid = add_row_labels(grid, labels, h, width=30)
            self.save(f"sample_cont_c{j + 1}.png", grid)
            short = [k for k in range(self.n) if len(smallest[k]) < per_row]
            if short:
                self.say(f"  c{j + 1}: fewer than {per_row} confident images for digit(s) {short}: rows padded "
                         f"with black")

    def _sample_variables(self, row_labels: bool) -> None:
        """Per categorical variable: row k = the 20 (--columns) test images most confidently given value k. Per
        continuous variable: two rows of the smallest values, then two rows of the largest."""
        from . import visualization as vis
        h, per_row = self.test.images.shape[1], self.columns or 20
        for v, probabilities in enumerate(self.parts.categorical):
            chosen = vis.most_confident_per_value(probabilities, per_row)
            grid = vis.image_grid(vis.pick(self.test.images, chosen, per_row), len(chosen), per_row)
            if row_labels:
                grid = vis.add_row_labels(grid, [str(k) for k in range(len(chosen))], h)
            self.save(f"samples_categorical_c{v + 1}.png", grid)
        everyone = np.zeros(len(self.test.images), int)
        for j in range(self.cfg.continuous_dim):
            largest, smallest = vis.extremes_per_value(self.parts.continuous[:, j], everyone, 1, 2 * per_row)
            rows = [smallest[0][:per_row], smallest[0][per_row:], largest[0][:per_row], largest[0][per_row:]]
            grid = vis.image_grid(vis.pick(self.test.images, rows, per_row), 4, per_row)
            if row_labels:
                grid = vis.add_row_labels(grid, ["low", "low", "high", "high"], h, width=34)
            self.save(f"sample_cont_c{j + 1}.png", grid)

    def reconstruct(self, rng) -> dict:
        from . import figures
        from .data.common import to_float

        def rebuild(images):
            return self.model.generate(self.model.encode(images))

        # rows: the digits where the test set has labels; otherwise 10 rows of random test images
        groups = self.test.labels if self.test.labels is not None else np.arange(len(self.test.images)) % 10
        grid = figures.reconstruction_pairs(self.test.images, groups, rebuild, self.n or 10, self.columns or 10, rng)
        self.save("samples_reconstruction.png", grid)
        originals = to_float(self.test.images)
        reconstructions = self.model.generate(self.codes)
        error = float(np.mean((originals - reconstructions) ** 2))
        shuffled = reconstructions[rng.permutation(len(originals))]
        baseline = float(np.mean((originals - shuffled) ** 2))
        self.say(f"Reconstruction MSE over the {len(originals)} test images: {error:.5f} "
                 f"(random pairs (x, G(E(x'))): {baseline:.5f}, ratio {error / baseline:.2f})")
        return {"reconstruction_mse": error, "random_pair_mse": baseline}

    def generate(self, rng) -> None:
        """Generated grids as the original's: categories (not digits) along the columns / down the rows."""
        from .latent import categorical_grid_latent, continuous_grid_latent
        from .visualization import image_grid
        cfg = self.cfg
        for v, n in enumerate(cfg.categorical_dims):
            name = "generated_imgs_categorical.png" if len(cfg.categorical_dims) == 1 else \
                f"generated_imgs_categorical_c{v + 1}.png"
            self.save(name, image_grid(self.model.generate(categorical_grid_latent(cfg, rng, v)), 10, n))
        for j in range(cfg.continuous_dim):
            code = continuous_grid_latent(cfg, rng, j)
            rows = cfg.categorical_dims[0]
            self.save(f"generated_imgs_cont_c{j + 1}.png",
                      image_grid(self.model.generate(code), rows, code.shape[0] // rows))

    def misclassified(self) -> int:
        from . import figures
        from .visualization import add_row_labels
        if not self.classifier:
            raise RunFolderError("--misclassified needs a run with one categorical variable that classifies "
                                 "the test labels (MNIST)")
        grid, labels, _ = figures.misclassified(self.test.images, self.test.labels, self.predicted, self.n, 30)
        grid = add_row_labels(grid, labels, self.test.images.shape[1])
        self.save("misclassified.png", grid)
        wrong = int(np.sum(self.predicted != self.test.labels))
        self.say(f"{wrong} of {len(self.test.labels)} test images misclassified (mapping from {self.mapping_source})")
        return wrong


def main(argv=None, out=None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    if not any(getattr(args, mode) for mode in MODES):
        parser.error("no mode given: choose one or more of " + ", ".join("--" + m for m in MODES))
    try:
        run_dir = Path(args.model_dir).expanduser()
        run = load_run_config(run_dir)  # fails early, before TensorFlow is imported, if not a run folder
        if args.misclassified and len(run.model.categorical_dims) != 1:
            raise RunFolderError("--misclassified needs a run with one categorical variable that classifies "
                                 "the test labels (MNIST)")
        if is_exported_folder(run_dir):
            check_exported_folder(run_dir, args.iteration)
        else:
            choose_checkpoint(run_dir, args.iteration)  # one line if there is none (of that iteration)
        json_path = Path(args.json).expanduser() if args.json else None
        if json_path is not None and json_path.exists():
            raise RunFolderError(f"{json_path} exists; choose another --json path (nothing is overwritten)")
        if json_path is not None and not args.evaluate:
            raise RunFolderError("--json writes the figures of --evaluate; add --evaluate")
        for path in filter(None, (args.output_dir, json_path and json_path.parent)):
            _check_can_make_folder(Path(path).expanduser())
        if args.output_dir and not args.overwrite and any(Path(args.output_dir).expanduser().glob("*.png")):
            raise RunFolderError(f"{args.output_dir} already holds PNG files; pass --overwrite to replace them "
                                 f"or choose another --output_dir")
        if not 0 < args.confidence < 1:
            raise RunFolderError(f"--confidence must be between 0 and 1, got {args.confidence}")
        import_tensorflow()
        print(device_line(), file=out, flush=True)
        from .checkpoints import CheckpointError
        try:
            ev = Evaluation(run_dir, args.iteration, args.data_dir, out, args.output_dir, args.columns)
        except CheckpointError as err:
            raise RunFolderError(str(err)) from None
        rng = np.random.default_rng(args.seed)
        results = {}
        if args.evaluate:
            results.update(ev.evaluate())
        if args.sample:
            ev.sample(args.confidence, args.row_labels, rng)
        if args.reconstruct:
            results.update(ev.reconstruct(rng))
        if args.generate:
            ev.generate(rng)
        if args.misclassified:
            results["misclassified"] = ev.misclassified()
        if json_path is not None:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps({"run_dir": str(run_dir), **results}, indent=2) + "\n")
            print(f"wrote {json_path}", file=out)
    except USER_ERRORS + (EncodingsError,) as err:
        print(f"evaluate_model.py: error: {err}", file=sys.stderr)
        return 2
    return 0
