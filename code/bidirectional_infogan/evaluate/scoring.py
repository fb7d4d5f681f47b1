"""evaluate_model.py --evaluate: the scores of the categorical code on the test labels (MNIST: as a
classifier; SVHN: each variable; CelebA: each attribute's best predictor), and the label-free health."""

from __future__ import annotations

import numpy as np

from bidirectional_infogan.evaluate import evaluation
from bidirectional_infogan.evaluate.inputs import Classes, Inputs, Outcome


def evaluate(inputs: Inputs, classes: Classes | None) -> Outcome:
    """MNIST: the classifier's scores; SVHN: each categorical variable's; CelebA: each attribute's best
    predictor."""
    if classes is not None:
        report = classifier_scores(inputs, classes)
        return Outcome(report, lines=classifier_lines(report))
    if inputs.test.labels is not None:
        report = variable_scores(inputs)
        return Outcome(report, lines=variable_lines(report))
    report = attribute_scores(inputs)
    return Outcome(report, lines=attribute_lines(report))


def health_outcome(inputs: Inputs) -> Outcome:
    """The label-free health of the model (health.py) on the test images, for --evaluate."""
    from bidirectional_infogan.evaluate import health
    if len(inputs.test.images) < health.MIN_IMAGES:  # the scores above still stand; only the health is left out
        return Outcome({"health": None}, lines=[f"Health without labels: not computed (it needs at least "
                                                f"{health.MIN_IMAGES} test images, this test set has "
                                                f"{len(inputs.test.images)})"])
    report = health.model_health(inputs.model, inputs.test.images)
    early = health.early_note(inputs.iteration, report["score"])
    verdict = ("healthy" if report["healthy"] else f"low at iteration {inputs.iteration:,}: {early}" if early
               else "suspect")
    lines = [f"Health without labels: {report['score']:.3f} ({verdict}; threshold {report['threshold']}, "
             "docs/health.md)"]
    for part in report["variables"]:
        lines.append(f"  categorical {part['variable']}: usage {part['usage']:.3f}, information "
                     f"{part['information']:.3f}, stability {part['stability']:.3f}, E(G(c)) = c "
                     f"{part['agreement']:.3f}; score {part['score']:.3f}")
    return Outcome({"health": report}, lines=lines)


def classifier_scores(inputs: Inputs, classes: Classes) -> dict:
    labels = inputs.test.labels
    report = evaluation.classification_report(classes.categories, labels, inputs.cfg.categorical_dims[0],
                                              inputs.test.n_classes, classes.mapping)
    report.update(iteration=inputs.iteration, mapping_source=classes.mapping_source, n_test=len(labels))
    return report


def classifier_lines(report: dict) -> list[str]:
    n_test, confusion = report["n_test"], report["confusion_matrix"]
    lines = [f"Accuracy: {report['accuracy']:.4f} ({n_test - report['errors']} of {n_test} test images; mapping "
             f"from {report['mapping_source']})",
             f"NMI: {report['nmi']:.4f}   ARI: {report['ari']:.4f}   purity: {report['purity']:.4f} (mapping-free)",
             "Per-class accuracy: " + "  ".join(f"{k}: {a:.3f}" for k, a in enumerate(report["per_class_accuracy"])),
             "Confusion matrix (rows: true digit, columns: predicted digit):",
             "       " + "".join(f"{k:>6}" for k in range(len(confusion)))]
    return lines + [f"  {k:>3}  " + "".join(f"{v:>6}" for v in row) for k, row in enumerate(confusion)]


def variable_scores(inputs: Inputs) -> dict:
    """SVHN: each categorical variable as a classifier of the digits, under its best mapping."""
    labels, n_classes = inputs.test.labels, inputs.test.n_classes
    variables = []
    for v, probabilities in enumerate(inputs.parts.categorical):
        values = probabilities.argmax(axis=1)
        n_values = probabilities.shape[1]
        mapping = evaluation.hungarian_mapping(values, labels, n_values, n_classes)
        report = evaluation.classification_report(values, labels, n_values, n_classes, mapping)
        report.update(variable=f"c{v + 1}", n_values=n_values, n_classes=n_classes)
        variables.append(report)
    return {"iteration": inputs.iteration, "n_test": len(labels), "variables": variables}


def variable_lines(result: dict) -> list[str]:
    lines = [f"Each categorical variable against the {result['n_test']} test labels (best one-to-one mapping "
             f"of its values to digits, Hungarian algorithm):",
             f"  {'variable':<9}{'accuracy':>9}{'NMI':>8}{'ARI':>8}{'purity':>8}  mapping (entry i = value "
             f"for digit i)"]
    for report in result["variables"]:
        encodings = ",".join(map(str, report["encodings"])) if report["encodings"] else "-"
        lines.append(f"  {report['variable']:<9}{report['accuracy']:>9.4f}{report['nmi']:>8.4f}"
                     f"{report['ari']:>8.4f}{report['purity']:>8.4f}  {encodings}")
    if any(report["n_values"] > report["n_classes"] for report in result["variables"]):
        lines.append("  (a variable with more values than digits leaves values unmapped in the one-to-one accuracy; "
                     "its purity, each value read as its most common digit, is its many-to-one accuracy)")
    return lines


def attribute_scores(inputs: Inputs) -> dict:
    """CelebA: for each attribute, the categorical value or continuous variable that predicts it best."""
    test, parts = inputs.test, inputs.parts
    names, scores = [], []
    for v, probabilities in enumerate(parts.categorical):
        for k in range(probabilities.shape[1]):
            names.append(f"c{v + 1}={k}")
            scores.append(probabilities[:, k])
    for j in range(inputs.cfg.continuous_dim):
        for sign, label in ((1, "high"), (-1, "low")):
            names.append(f"cont{j + 1} {label}")
            scores.append(sign * parts.continuous[:, j])
    auc = evaluation.auc_matrix(np.stack(scores, axis=1), test.attributes)
    rows = []
    for a, name in enumerate(test.attribute_names):
        best = int(np.nanargmax(auc[a])) if not np.all(np.isnan(auc[a])) else 0
        share = float(test.attributes[:, a].mean())
        rows.append({"attribute": name, "positives": share, "best_predictor": names[best],
                     "auc": float(auc[a, best])})
    return {"iteration": inputs.iteration, "n_test": len(test.images), "attributes": rows,
            "predictors": names, "auc": auc.tolist()}


def attribute_lines(result: dict) -> list[str]:
    lines = [f"Best single predictor of each attribute on the {result['n_test']} test images "
             f"(AUC; 0.5 = chance). cK=k: probability that categorical variable K takes value k; "
             f"contJ high/low: the value of continuous variable J, large or small",
             f"  {'attribute':<22}{'positives':>10}  {'best predictor':<16}{'AUC':>7}"]
    for row in sorted(result["attributes"], key=lambda r: -r["auc"]):
        lines.append(f"  {row['attribute']:<22}{row['positives']:>9.1%}  {row['best_predictor']:<16}"
                     f"{row['auc']:>7.3f}")
    return lines
