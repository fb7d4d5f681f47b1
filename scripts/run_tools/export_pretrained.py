"""Export a trained run as a model that others can use without training and without this project.

    python scripts/run_tools/export_pretrained.py RUN_DIR OUT_DIR [--iteration N] [--data_dir DIR] [--overwrite]
                                                  [--chosen_by TEXT]

OUT_DIR gets
    encoder.keras    E: float32 images in [0, 1], (N, H, W, C) -> dict z, categorical_1..K (softmax), continuous
    generator.keras  G: such a dict (categorical blocks one-hot or probabilities) -> images in [0, 1]
    config.json      the run's config.json
    encodings.txt    (MNIST, SVHN) entry i = the category that encodes digit i: the run folder's own file if it
                     has one (runs with one categorical variable), else the best one-to-one mapping on the test
                     labels (Hungarian algorithm; SVHN: of the categorical variable that classifies best)
    results.json     seed, iteration, data set, chosen_by (if given), the test accuracy and NMI that the
                     exported encoder.keras gives (loaded back from the file), and how closely the exported networks reproduce the trained
                     ones
Both .keras files load with plain `keras.saving.load_model(path)` (Keras 3 and TensorFlow, no project code).
`python evaluate_model.py --model_dir OUT_DIR --evaluate` evaluates the exported folder.

Any run folder works (MNIST, SVHN, CelebA). MNIST and SVHN are scored on the test set of the folder the run was
trained with (or --data_dir; without either, the download cache); CelebA has no class labels, so its
results.json has no accuracy (evaluate_model.py --evaluate scores its attributes). Before anything is written,
the exported networks, loaded back from the files, are compared with the trained ones on 256 codes and images;
a difference beyond float32 rounding stops the export. A bad run folder, a missing iteration, or an OUT_DIR
that exists and is not empty is one line on stderr and exit code 2; --overwrite replaces only a folder that
this script made. The folder is written under a temporary name and renamed into place when complete.
"""

from __future__ import annotations

import sys

from bidirectional_infogan.runs.errors import USER_ERRORS
from bidirectional_infogan.util.arguments import OneLineErrorParser, positive_int
from bidirectional_infogan.evaluate.inputs import EncodingsError


def build_parser():
    parser = OneLineErrorParser(prog="export_pretrained.py",
                                description="Export a run's encoder and generator as plain Keras 3 files, with "
                                            "config.json, encodings.txt and results.json.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the run folder of a training run")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="the folder to make (must not exist, or be empty)")
    parser.add_argument("--iteration", type=positive_int, help="checkpoint to export (default: the newest)")
    parser.add_argument("--data_dir", help="folder of the data set (default: the one the run was trained on)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace OUT_DIR if it is a folder that this script made")
    parser.add_argument("--chosen_by", metavar="TEXT",
                        help="how this run was chosen among others (e.g. the rule and the runs compared), written "
                             "into results.json as chosen_by")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from bidirectional_infogan.evaluate.export import export
    try:
        results = export(args.run_dir, args.out_dir, args.iteration, args.data_dir, args.overwrite,
                         chosen_by=args.chosen_by)
    except USER_ERRORS + (EncodingsError,) as err:
        print(f"export_pretrained.py: error: {err}", file=sys.stderr)
        return 2
    score = "" if results.get("accuracy") is None else \
        f"; test accuracy {results['accuracy']:.4f}, NMI {results['nmi']:.4f} ({results['variable']})"
    print(f"Exported iteration {results['iteration']} of {args.run_dir} to {args.out_dir}{score}")
    for name, check in results["parity"].items():
        print(f"  {name}: largest difference from the trained network {check['max_abs_difference']:.3g} "
              f"({check['max_difference_over_tolerance']:.3g} times its float32 tolerance)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
