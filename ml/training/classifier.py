"""Training an image classifier from its typed config (see ``ml/configs``).

The data set reader gives patient- or lesion-disjoint train / val / test splits. The best
epoch, the prior correction (multi-class) and the decision threshold (two classes) are all
chosen on the validation split; the test split is scored once, at the end, through the
serving path, with bootstrap 95% intervals that resample whole patients.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ml.cards import write_model_card
from ml.classifier import Classifier
from ml.datasets import DatasetError, LabelledImage, labelled_splits
from ml.inputs import inputs_for
from ml.metadata import ModelMetadata
from ml.models import create_model
from ml.plots import save_plots
from ml.timing import Stopwatch
from ml.training.common import install, machine_description, seed_everything, threads, utc_now
from ml.training.config import ClassifierConfig
from ml.training.loop import ClassifierData, TrainingParts, fit, predict_logits, predict_probabilities
from ml.training.losses import classification_loss
from ml.training.optim import class_counts, class_weights, create_optimiser, create_scheduler, sampling_weights
from ml.training.reporting import choose_threshold, evaluate_probabilities, prior_correction_strength

INSTALLED_FILES = ["model.pt", "metadata.json", "config.yaml", "train_log.csv", "MODEL_CARD.md",
                   *[f"{plot}_{split}.png" for plot in ("roc", "calibration", "confusion")
                     for split in ("val", "test")]]
SCORED_SPLITS = ("val", "test")
SPLIT_DESCRIPTION = ("patient/lesion-disjoint by sha256(group id) % 100: train < 70 <= val < 85 "
                     "<= test; epoch, prior correction and threshold chosen on val; test "
                     "scored once")


def train(config: ClassifierConfig, run_dir: Path,
          splits: dict[str, list[LabelledImage]] | None = None) -> ModelMetadata:
    """Train, choose on val, score val and test, and install. ``splits`` overrides the data
    set's own train / val / test (cross-validation passes its folds)."""
    threads(config.threads)
    generator = seed_everything(config.seed)
    watch = Stopwatch()
    metadata, data = load_data(config, splits)
    print(f"loaded {', '.join(f'{s}={len(v)}' for s, v in data.items.items())} images "
          f"in {watch.seconds:.1f}s", flush=True)
    data.inputs.fit_normalisation(data.images["train"])
    parts = build_training_parts(config, data, generator)
    state = fit(parts, data, config, run_dir)
    parts.network.load_state_dict(state["best_state"])
    network = parts.network.cpu()
    tau = prior_correction(config, metadata, data, network)
    metadata.test_time_flips = config.test_time_flips
    classifier = Classifier(network, metadata)
    probabilities = {s: predict_probabilities(classifier, data.inputs, data.images[s])
                     for s in SCORED_SPLITS}
    threshold = decision_threshold(config, metadata, data, probabilities["val"])
    metadata.metrics = {**score_splits(config, data, probabilities, threshold),
                        "best_epoch": state["best_epoch"], "training_seconds": round(watch.seconds)}
    if tau is not None:
        metadata.metrics["prior_correction_tau"] = tau
    write_run(config, run_dir, metadata, network=network, data=data, probabilities=probabilities,
              threshold=threshold)
    return metadata


def load_data(config: ClassifierConfig, splits: dict[str, list[LabelledImage]] | None
              ) -> tuple[ModelMetadata, ClassifierData]:
    """The model's metadata (its preprocessing from the config) and every split loaded
    through that preprocessing."""
    classes, own_splits = labelled_splits(config.dataset, Path(config.data_dir), config.label_task)
    splits = splits or own_splits
    if config.max_images_per_split:
        # An even spread over each split, so that a small run still sees every class.
        limit = config.max_images_per_split
        splits = {s: items[:: max(1, len(items) // limit)][:limit] for s, items in splits.items()}
    empty = [s for s, items in splits.items() if not items]
    if empty:
        raise DatasetError(f"the {' and '.join(empty)} split(s) are empty: the data set needs "
                           f"more patients (splits are made by patient)")
    metadata = ModelMetadata(
        name=config.name, version=config.version, task="classification",
        architecture=config.architecture, weights_file="model.pt", classes=classes,
        input_size=list(config.input_size), gradcam_target_layer=config.gradcam_target_layer,
        clahe=config.clahe, colour_constancy=config.colour_constancy,
        colour_constancy_power=config.colour_constancy_power,
        voxel_spacing=config.voxel_spacing, hu_window=config.hu_window,
    )
    inputs = inputs_for(metadata, config.augment)
    data = ClassifierData(
        classes=classes, items=splits, inputs=inputs,
        images={s: inputs.load(items) for s, items in splits.items()},
        labels={s: torch.tensor([i.label for i in items], dtype=torch.long)
                for s, items in splits.items()})
    return metadata, data


def build_training_parts(config: ClassifierConfig, data: ClassifierData,
                         generator: torch.Generator) -> TrainingParts:
    device = torch.device(config.device)
    network = create_model(config.architecture, num_classes=len(data.classes))
    network = network.to(device, memory_format=data.inputs.memory_format)
    counts = class_counts(data.labels["train"], len(data.classes))
    optimiser = create_optimiser(network, config)
    steps_per_epoch = max(1, len(data.labels["train"]) // config.batch_size)
    return TrainingParts(
        network=network, optimiser=optimiser,
        scheduler=create_scheduler(optimiser, config, steps_per_epoch),
        loss_fn=classification_loss(config, class_weights(counts, config.class_weight_power).to(device)),
        device=device, generator=generator, steps_per_epoch=steps_per_epoch,
        sample_weights=sampling_weights(data.labels["train"], counts, config))


def prior_correction(config: ClassifierConfig, metadata: ModelMetadata, data: ClassifierData,
                     network: torch.nn.Module) -> float | None:
    """With more than two classes and ``prior_correction``: logit adjustment of a strength
    chosen on val, stored in the metadata; returns that strength (None when not used)."""
    if len(data.classes) <= 2 or not config.prior_correction:
        return None
    counts = class_counts(data.labels["train"], len(data.classes))
    prior = counts / counts.sum()
    tau = prior_correction_strength(predict_logits(network, data.inputs, data.images["val"]),
                                    data.labels["val"], prior, data.classes)
    metadata.logit_bias = (-tau * torch.log(prior)).tolist()
    return tau


def decision_threshold(config: ClassifierConfig, metadata: ModelMetadata, data: ClassifierData,
                       val_probabilities: np.ndarray) -> float | None:
    """Two classes: the threshold on the second class's probability chosen on val by the
    config's rule (stored in the metadata); None otherwise."""
    if len(data.classes) != 2:
        return None
    threshold = choose_threshold(config.threshold, data.labels["val"].numpy(),
                                 val_probabilities[:, 1])
    metadata.thresholds = {data.classes[1]: threshold}
    return threshold


def score_splits(config: ClassifierConfig, data: ClassifierData,
                 probabilities: dict[str, np.ndarray], threshold: float | None) -> dict[str, dict]:
    report = {}
    for split in SCORED_SPLITS:
        report[split] = evaluate_probabilities(
            probabilities[split], data.labels[split].numpy(), data.classes, threshold=threshold,
            groups=[item.group for item in data.items[split]],
            bootstrap_samples=config.bootstrap_samples)
        print(f"{split}: " + " ".join(f"{k}={v:.4f}" for k, v in report[split].items()
                                      if isinstance(v, float)), flush=True)
    return report


def write_run(config: ClassifierConfig, run_dir: Path, metadata: ModelMetadata, *,
              network: torch.nn.Module, data: ClassifierData,
              probabilities: dict[str, np.ndarray], threshold: float | None) -> None:
    """Weights, metadata, plots and model card in the run folder, then installed."""
    metadata.training_data = config.training_data
    metadata.split = SPLIT_DESCRIPTION
    metadata.intended_use = config.intended_use
    metadata.limitations = config.limitations
    metadata.trained_on = machine_description()
    metadata.created = utc_now()
    torch.save({k: v.clone() for k, v in network.state_dict().items()}, run_dir / "model.pt")
    for split in SCORED_SPLITS:
        save_plots(run_dir, probabilities[split], data.labels[split].numpy(), data.classes,
                   threshold=threshold, split=split)
    metadata.write(run_dir)
    write_model_card(run_dir, metadata)
    install(run_dir, config.install_dir, INSTALLED_FILES)
