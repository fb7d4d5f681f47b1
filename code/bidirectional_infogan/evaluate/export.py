"""scripts/run_tools/export_pretrained.py's library part: a run's checkpoint written as an exported folder (plain
Keras E and G, config.json, encodings.txt, results.json with the test scores); pretrained.py describes the
folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from bidirectional_infogan.model.latent import latent_blocks, latent_to_dict
from bidirectional_infogan.evaluate.plain_keras import PARITY_SAMPLES, parity, plain_encoder, plain_generator
from bidirectional_infogan.evaluate.pretrained import (BATCH_SIZE, CONFIG_FILE, ENCODER_FILE, ENCODINGS_FILE,
                                                       EXPORTED_BY, GENERATOR_FILE, RESULTS_FILE, ExportError,
                                                       ExportedModel, read_results)
from bidirectional_infogan.runs.run_folder import RunFolderError, choose_checkpoint, load_run_config


def check_output_folder(out_dir: Path, overwrite: bool) -> None:
    """OUT_DIR must be new or empty; with --overwrite it may instead be a folder that this exporter made."""
    for existing in (out_dir, *out_dir.parents):
        if existing.exists():
            if not existing.is_dir():
                raise ExportError(f"{out_dir} cannot be made: {existing} is a file, not a folder")
            break
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    if not overwrite:
        raise ExportError(f"{out_dir} exists and is not empty; choose a new OUT_DIR (nothing is overwritten; "
                          f"--overwrite replaces a folder that this script made)")
    try:
        made_here = read_results(out_dir).get("exported_by") == EXPORTED_BY
    except RunFolderError:
        made_here = False
    if not made_here:
        raise ExportError(f"{out_dir} was not made by {EXPORTED_BY} (its {RESULTS_FILE} does not say so): "
                          f"--overwrite replaces only such folders")


def check_run_folder(run_dir: Path, iteration: int | None):
    """The run config and the iteration to export (the newest checkpoint by default), or one line why not."""
    run = load_run_config(run_dir)
    try:
        iteration, _ = choose_checkpoint(run_dir, iteration)
    except RunFolderError as err:
        raise ExportError(str(err)) from None
    return run, iteration


def _score(run, cfg, codes, test, run_dir: Path, say) -> tuple[dict, list | None]:
    """What results.json says about the test set, and the encodings to write (None: no encodings.txt)."""
    from bidirectional_infogan.evaluate import evaluation
    from bidirectional_infogan.evaluate.inputs import parse_encodings
    n = test.n_classes
    categorical = latent_to_dict(cfg, codes)
    scores = []
    for v, values_count in enumerate(cfg.categorical_dims):
        values = categorical[f"categorical_{v + 1}"].argmax(axis=1)
        mapping = evaluation.hungarian_mapping(values, test.labels, values_count, n)
        scores.append((v, values, mapping))
    source_file = run_dir / ENCODINGS_FILE
    if len(cfg.categorical_dims) == 1 and source_file.is_file():
        v, values, _ = scores[0]
        encodings = parse_encodings(source_file.read_text(), n, str(source_file))
        mapping, source = evaluation.mapping_from_encodings(encodings), "encodings.txt of the run folder"
    else:
        if source_file.is_file():
            say(f"note: {source_file} is not used: this run has {len(cfg.categorical_dims)} categorical "
                f"variables, and evaluate_model.py maps each by the Hungarian algorithm")
        accuracies = [evaluation.accuracy(evaluation.apply_mapping(values, mapping), test.labels)
                      for _, values, mapping in scores]
        v, values, mapping = scores[int(np.argmax(accuracies))]
        source = "test labels (Hungarian algorithm)"
    report = evaluation.classification_report(values, test.labels, cfg.categorical_dims[v], n, mapping)
    results = {"accuracy": report["accuracy"], "nmi": report["nmi"], "ari": report["ari"],
               "errors": report["errors"], "n_test": len(test.labels), "variable": f"categorical_{v + 1}",
               "mapping_source": source}
    encodings = report["encodings"] if cfg.categorical_dims[v] == n else None
    if len(cfg.categorical_dims) > 1:
        results["per_variable"] = [
            {"variable": f"categorical_{w + 1}",
             "accuracy": evaluation.accuracy(evaluation.apply_mapping(vals, mp), test.labels),
             "nmi": evaluation.normalized_mutual_information(vals, test.labels, cfg.categorical_dims[w], n)}
            for w, vals, mp in scores]
    results["encodings"] = encodings
    return results, encodings


def export(run_dir, out_dir, iteration: int | None = None, data_dir=None, overwrite: bool = False,
           say=print, chosen_by: str | None = None) -> dict:
    """Export checkpoint `iteration` (default: the newest) of a run folder into `out_dir`; returns the
    results.json contents (with `chosen_by`, how this run was chosen among others, if given). The folder is
    written under a temporary name next to `out_dir` and renamed into place once complete."""
    run_dir, out_dir = Path(run_dir).expanduser(), Path(out_dir).expanduser()
    requested = iteration
    run, iteration = check_run_folder(run_dir, iteration)
    check_output_folder(out_dir, overwrite)

    from bidirectional_infogan.util.tf_setup import describe_device, import_tensorflow
    tf = import_tensorflow()
    import keras
    from bidirectional_infogan.runs.checkpoints import CheckpointError, load_trained_model
    from bidirectional_infogan.data.common import DataError
    from bidirectional_infogan.datasets import DATASETS
    from bidirectional_infogan.evaluate.evaluation_data import load_test_set
    from bidirectional_infogan.model.latent import sample_latent

    try:
        # the newest checkpoint that reads back whole (a damaged newer one is skipped, saying so)
        model, iteration, run = load_trained_model(run_dir, requested, say)
    except CheckpointError as err:
        raise ExportError(str(err)) from None
    cfg = run.model
    test = None
    dataset = DATASETS.get(cfg.dataset)
    if dataset is not None and dataset.labelled:  # scored on the test labels; encodings.txt
        try:
            test = load_test_set(run, data_dir)
        except DataError as err:
            raise ExportError(str(err)) from None

    partial = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    try:
        plain_encoder(model.encoder, cfg).save(partial / ENCODER_FILE)
        plain_generator(model.generator, cfg).save(partial / GENERATOR_FILE)
        shutil.copyfile(run_dir / CONFIG_FILE, partial / CONFIG_FILE)
        exported = ExportedModel(partial, cfg)  # everything below goes through the saved files

        rng = np.random.default_rng(0)
        z, c = sample_latent(cfg, rng, PARITY_SAMPLES)
        codes = np.concatenate([z, c], axis=1)
        if test is not None:
            images = test.images[rng.permutation(len(test.images))[:PARITY_SAMPLES]]
        else:  # no labelled test set (CelebA): G's images
            images = np.round(model.generate(codes) * 255).astype(np.uint8)
        checks = parity(model, cfg, codes, images, exported)
        failed = [f"{name}: {c['max_difference_over_tolerance']:.3g} times the tolerance"
                  for name, c in checks.items() if not c["max_difference_over_tolerance"] <= 1]
        if failed:
            raise ExportError("the exported networks do not reproduce the trained ones within float32 rounding "
                              "(" + "; ".join(failed) + ")")

        results = {"exported_by": EXPORTED_BY, "source_run": run_dir.name, "dataset": cfg.dataset,
                   "seed": run.train.seed, "iteration": iteration, **({"chosen_by": chosen_by} if chosen_by else {})}
        if test is not None:
            codes_test = exported.encode(test.images)
            scores, encodings = _score(run, cfg, codes_test, test, run_dir, say)
            results.update(scores)
            if encodings is not None:
                (partial / ENCODINGS_FILE).write_text(",".join(map(str, encodings)) + "\n")
        else:
            results.update({"accuracy": None, "nmi": None,
                            "note": f"{cfg.dataset} has no class labels to score; evaluate_model.py --evaluate "
                                    f"--data_dir DIR scores the attributes"})
        results.update({
            "encoder_input": f"float32 images in [0, 1], shape (N, {', '.join(map(str, cfg.image_shape))}); "
                             f"uint8 pixels were scaled as pixels * float32(1 / 255)",
            "latent": [[name, size] for name, size in latent_blocks(cfg)],
            "batch_size": BATCH_SIZE,
            "parity": checks,
            "device": describe_device(), "tensorflow": tf.__version__, "keras": keras.__version__,
        })
        (partial / RESULTS_FILE).write_text(json.dumps(results, indent=2) + "\n")
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            os.replace(out_dir, old)
            os.replace(partial, out_dir)
            shutil.rmtree(old)
        else:
            os.replace(partial, out_dir)
    finally:
        if partial.exists():
            shutil.rmtree(partial)
    return results
