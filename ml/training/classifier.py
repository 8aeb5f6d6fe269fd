"""Training an image classifier from a YAML config (see ``ml/configs``).

The data set reader gives patient- or lesion-disjoint train / val / test splits. The best
epoch, the prior correction (multi-class) and the decision threshold (two classes) are all
chosen on the validation split; the test split is scored once, at the end, through the
serving path, with bootstrap 95% intervals that resample whole patients.
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ml.augment import AugmentConfig
from ml.cards import save_plots, write_model_card
from ml.classifier import Classifier
from ml.datasets import DatasetError, labelled_splits
from ml.inputs import inputs_for
from ml.metadata import ModelMetadata
from ml.metrics import classification_metrics, roc_auc
from ml.registry import create_model
from ml.training.common import EpochLog, install, machine_description, seed_everything, threads, utc_now
from ml.training.losses import classification_loss
from ml.training.reporting import choose_threshold, evaluate_probabilities, prior_correction_strength

INSTALLED_FILES = ["model.pt", "metadata.json", "config.yaml", "train_log.csv", "MODEL_CARD.md",
                   *[f"{plot}_{split}.png" for plot in ("roc", "calibration", "confusion")
                     for split in ("val", "test")]]
CHECKPOINT = "checkpoint.pt"


def train(config: dict, run_dir: Path, splits: dict | None = None) -> ModelMetadata:
    """Train, choose on val, score val and test, and install. ``splits`` overrides the data
    set's own train / val / test (cross-validation passes its folds)."""
    threads(config.get("threads"))
    generator = seed_everything(int(config.get("seed", 0)))
    device = torch.device(config.get("device", "cpu"))
    started = time.time()

    classes, own_splits = labelled_splits(config)
    splits = splits or own_splits
    limit = config.get("max_images_per_split")
    if limit:
        # An even spread over each split, so that a small run still sees every class.
        splits = {s: items[:: max(1, len(items) // int(limit))][: int(limit)]
                  for s, items in splits.items()}
    empty = [s for s, items in splits.items() if not items]
    if empty:
        raise DatasetError(f"the {' and '.join(empty)} split(s) are empty: the data set needs "
                           f"more patients (splits are made by patient)")
    metadata = ModelMetadata(
        name=config["name"], version=str(config["version"]), task="classification",
        architecture=config["architecture"], weights_file="model.pt", classes=classes,
        input_size=list(config["input_size"]), gradcam_target_layer=config["gradcam_target_layer"],
        clahe=bool(config.get("clahe", False)),
        voxel_spacing=config.get("voxel_spacing"), hu_window=config.get("hu_window"),
    )
    inputs = inputs_for(metadata, AugmentConfig.from_config(config.get("augment")))
    images = {s: inputs.load(items) for s, items in splits.items()}
    labels = {s: torch.tensor([i.label for i in items], dtype=torch.long) for s, items in splits.items()}
    print(f"loaded {', '.join(f'{s}={len(v)}' for s, v in splits.items())} images "
          f"in {time.time() - started:.1f}s", flush=True)
    inputs.fit_normalisation(images["train"])

    network = create_model(config["architecture"], num_classes=len(classes))
    network = network.to(device, memory_format=inputs.memory_format)
    counts = torch.bincount(labels["train"], minlength=len(classes)).float().clamp(min=1)
    class_weights = (counts.sum() / counts) ** float(config.get("class_weight_power", 0.0))
    class_weights = class_weights / (class_weights * counts).sum() * counts.sum()
    loss_fn = classification_loss(config, class_weights.to(device))
    optimiser = torch.optim.AdamW(network.parameters(), lr=float(config["lr"]),
                                  weight_decay=float(config.get("weight_decay", 0.0)))
    batch_size = int(config["batch_size"])
    accumulate = int(config.get("accumulate", 1))
    epochs = int(config["epochs"])
    steps_per_epoch = max(1, len(labels["train"]) // batch_size)
    schedule = config.get("schedule", "onecycle")
    if schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimiser, max_lr=float(config["lr"]), epochs=epochs,
            steps_per_epoch=max(1, steps_per_epoch // accumulate))
    elif schedule == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimiser, mode="max", factor=0.5, patience=int(config.get("plateau_patience", 3)))
    else:
        raise ValueError(f"unknown schedule {schedule!r}; one of onecycle, plateau")
    sample_weights = None
    if config.get("sampler") == "weighted":
        sample_weights = (1.0 / counts)[labels["train"]]
    use_bf16 = bool(config.get("bf16", False))
    patience = config.get("early_stopping_patience")

    state = {"epoch": 0, "best_score": -1.0, "best_epoch": 0, "best_state": None}
    checkpoint_path = run_dir / CHECKPOINT
    if config.get("resume") and checkpoint_path.exists():
        saved = torch.load(checkpoint_path, map_location=device, weights_only=False)
        network.load_state_dict(saved["network"])
        optimiser.load_state_dict(saved["optimiser"])
        scheduler.load_state_dict(saved["scheduler"])
        generator.set_state(saved["generator"])
        state = saved["state"]
        print(f"resumed from epoch {state['epoch']}", flush=True)
    log = EpochLog(run_dir / "train_log.csv", append=state["epoch"] > 0)

    for epoch in range(state["epoch"] + 1, epochs + 1):
        epoch_started = time.time()
        network.train()
        if sample_weights is not None:
            order = torch.multinomial(sample_weights, len(sample_weights), replacement=True,
                                      generator=generator)
        else:
            order = torch.randperm(len(labels["train"]), generator=generator)
        total_loss = 0.0
        steps = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{epochs}", leave=False,
                     disable=not sys.stderr.isatty())
        optimiser.zero_grad(set_to_none=True)
        for step in steps:
            index = order[step * batch_size:(step + 1) * batch_size]
            batch = inputs.batch(images["train"][index], generator)
            batch = batch.to(device).contiguous(memory_format=inputs.memory_format)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                logits = network(batch)
            loss = loss_fn(logits, labels["train"][index].to(device))
            (loss / accumulate).backward()
            if (step + 1) % accumulate == 0 or step + 1 == steps_per_epoch:
                optimiser.step()
                optimiser.zero_grad(set_to_none=True)
                if schedule == "onecycle" and scheduler.last_epoch + 1 < scheduler.total_steps:
                    scheduler.step()
            total_loss += loss.item()
        val_logits = predict_logits(network, inputs, images["val"], device)
        val = selection_metrics(val_logits, labels["val"], classes)
        if schedule == "plateau":
            scheduler.step(val["score"])
        if state["best_state"] is None or val["score"] > state["best_score"]:
            state.update(best_score=val["score"], best_epoch=epoch,
                         best_state=copy.deepcopy(network.state_dict()))
        state["epoch"] = epoch
        log.write(epoch=epoch, loss=total_loss / steps_per_epoch, **{f"val_{k}": v for k, v in val.items()},
                  lr=optimiser.param_groups[0]["lr"], seconds=round(time.time() - epoch_started, 1))
        torch.save({"network": network.state_dict(), "optimiser": optimiser.state_dict(),
                    "scheduler": scheduler.state_dict(), "generator": generator.get_state(),
                    "state": state}, checkpoint_path)
        if patience and epoch - state["best_epoch"] >= int(patience):
            print(f"early stop: no better validation score for {patience} epochs", flush=True)
            break

    network.load_state_dict(state["best_state"])
    network = network.cpu()
    classifier = Classifier(network, metadata)
    if len(classes) > 2 and config.get("prior_correction", False):
        prior = counts / counts.sum()
        tau = prior_correction_strength(predict_logits(network, inputs, images["val"]),
                                        labels["val"], prior, classes)
        metadata.logit_bias = (-tau * torch.log(prior)).tolist()
        classifier = Classifier(network, metadata)
    metadata.test_time_flips = bool(config.get("test_time_flips", False))
    probabilities = {s: predict_probabilities(classifier, inputs, images[s]) for s in ("val", "test")}
    threshold = None
    if len(classes) == 2:
        threshold = choose_threshold(config.get("threshold", "youden"),
                                     labels["val"].numpy(), probabilities["val"][:, 1])
        metadata.thresholds = {classes[1]: threshold}
    report = {}
    for split in ("val", "test"):
        groups = [item.group for item in splits[split]]
        report[split] = evaluate_probabilities(
            probabilities[split], labels[split].numpy(), classes, threshold=threshold,
            groups=groups, bootstrap_samples=int(config.get("bootstrap_samples", 1000)))
        print(f"{split}: " + " ".join(f"{k}={v:.4f}" for k, v in report[split].items()
                                      if isinstance(v, float)), flush=True)
    metadata.metrics = {**report, "best_epoch": state["best_epoch"],
                        "training_seconds": round(time.time() - started)}
    if metadata.logit_bias:
        metadata.metrics["prior_correction_tau"] = tau
    metadata.training_data = config.get("training_data", "")
    metadata.split = ("patient/lesion-disjoint by sha256(group id) % 100: train < 70 <= val < 85 "
                      "<= test; epoch, prior correction and threshold chosen on val; test "
                      "scored once")
    metadata.intended_use = config.get("intended_use", "")
    metadata.limitations = config.get("limitations", "")
    metadata.trained_on = machine_description()
    metadata.created = utc_now()
    torch.save({k: v.clone() for k, v in network.state_dict().items()}, run_dir / "model.pt")
    for split in ("val", "test"):
        save_plots(run_dir, probabilities[split], labels[split].numpy(), classes,
                   threshold=threshold, split=split)
    metadata.write(run_dir)
    write_model_card(run_dir, metadata)
    install(run_dir, config.get("install_dir"), INSTALLED_FILES)
    return metadata


@torch.inference_mode()
def predict_logits(network, inputs, stored: torch.Tensor, device: torch.device | str = "cpu",
                   batch_size: int = 128) -> torch.Tensor:
    network.eval()
    outputs = []
    for start in range(0, len(stored), batch_size):
        batch = inputs.batch(stored[start:start + batch_size]).to(device)
        outputs.append(network(batch.contiguous(memory_format=inputs.memory_format)).float().cpu())
    return torch.cat(outputs) if outputs else torch.empty(0, len(inputs.metadata.classes))


def predict_probabilities(classifier: Classifier, inputs, stored: torch.Tensor,
                          batch_size: int = 128) -> np.ndarray:
    """Probabilities through the serving path (bias and test-time flips included)."""
    parts = [classifier.predict_batch(inputs.batch(stored[i:i + batch_size]))
             for i in range(0, len(stored), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, len(classifier.classes)))


def selection_metrics(logits: torch.Tensor, labels: torch.Tensor, classes) -> dict:
    """Validation numbers logged each epoch; ``score`` picks the best epoch: ROC AUC for two
    classes, the mean of accuracy and balanced accuracy otherwise."""
    metrics = classification_metrics(labels.numpy(), logits.argmax(1).numpy(), classes)
    values = {"accuracy": metrics["accuracy"], "balanced_accuracy": metrics["balanced_accuracy"],
              "macro_f1": metrics["macro_f1"]}
    if len(classes) == 2:
        values["auc"] = roc_auc(labels.numpy(), torch.softmax(logits, 1)[:, 1].numpy())
        values["score"] = values["auc"]
    else:
        values["score"] = (values["accuracy"] + values["balanced_accuracy"]) / 2
    return values
