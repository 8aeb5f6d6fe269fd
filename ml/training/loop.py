"""The epochs of a classifier's training: ``train_one_epoch``, ``validate``, checkpoints and
early stopping, over data loaded once (``ClassifierData``)."""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ml.classifier import Classifier
from ml.datasets.common import LabelledImage
from ml.inputs import ImageInputs, VolumeInputs
from ml.metrics import classification_metrics, roc_auc
from ml.timing import Stopwatch
from ml.training.common import EpochLog
from ml.training.config import ClassifierConfig
from ml.training.losses import LossFunction
from ml.training.optim import Scheduler, scheduler_step_after_epoch, scheduler_step_after_update

CHECKPOINT = "checkpoint.pt"
TRAIN_LOG = "train_log.csv"


@dataclass
class ClassifierData:
    """Every split, loaded once as the model sees it before augmentation."""

    classes: list[str]
    items: dict[str, list[LabelledImage]]
    inputs: ImageInputs | VolumeInputs
    images: dict[str, torch.Tensor]
    labels: dict[str, torch.Tensor]


@dataclass
class TrainingParts:
    """What the epochs of one run use and change, built once by the trainer."""

    network: nn.Module
    optimiser: torch.optim.Optimizer
    scheduler: Scheduler
    loss_fn: LossFunction
    device: torch.device
    generator: torch.Generator
    steps_per_epoch: int
    sample_weights: torch.Tensor | None  # weighted sampling; None: a shuffle each epoch


def new_state() -> dict[str, Any]:
    """The run's progress, as a checkpoint stores it."""
    return {"epoch": 0, "best_score": -1.0, "best_epoch": 0, "best_state": None}


def fit(parts: TrainingParts, data: ClassifierData, config: ClassifierConfig,
        run_dir: Path) -> dict[str, Any]:
    """Train epoch after epoch (from the checkpoint with ``resume``), keep the weights of the
    best validation score, stop early when it stalls; returns the final state."""
    state = new_state()
    if config.resume and (run_dir / CHECKPOINT).exists():
        state = resume(parts, run_dir / CHECKPOINT)
    log = EpochLog(run_dir / TRAIN_LOG, append=state["epoch"] > 0)
    for epoch in range(state["epoch"] + 1, config.epochs + 1):
        watch = Stopwatch()
        loss = train_one_epoch(epoch, parts, data, config)
        val = validate(parts, data)
        scheduler_step_after_epoch(parts.scheduler, val["score"])
        if state["best_state"] is None or val["score"] > state["best_score"]:
            state.update(best_score=val["score"], best_epoch=epoch,
                         best_state=copy.deepcopy(parts.network.state_dict()))
        state["epoch"] = epoch
        log.write(epoch=epoch, loss=loss, **{f"val_{k}": v for k, v in val.items()},
                  lr=parts.optimiser.param_groups[0]["lr"], seconds=round(watch.seconds, 1))
        save_checkpoint(parts, state, run_dir / CHECKPOINT)
        patience = config.early_stopping_patience
        if patience and epoch - state["best_epoch"] >= patience:
            print(f"early stop: no better validation score for {patience} epochs", flush=True)
            break
    return state


def train_one_epoch(epoch: int, parts: TrainingParts, data: ClassifierData,
                    config: ClassifierConfig) -> float:
    """One pass over the training split; the mean loss of its steps."""
    parts.network.train()
    order = epoch_order(parts, len(data.labels["train"]))
    total_loss = 0.0
    steps = tqdm(range(parts.steps_per_epoch), desc=f"epoch {epoch}/{config.epochs}",
                 leave=False, disable=not sys.stderr.isatty())
    parts.optimiser.zero_grad(set_to_none=True)
    for step in steps:
        index = order[step * config.batch_size:(step + 1) * config.batch_size]
        batch = data.inputs.batch(data.images["train"][index], parts.generator)
        batch = batch.to(parts.device).contiguous(memory_format=data.inputs.memory_format)
        with torch.autocast(parts.device.type, dtype=torch.bfloat16, enabled=config.bf16):
            logits = parts.network(batch)
        loss = parts.loss_fn(logits, data.labels["train"][index].to(parts.device))
        (loss / config.accumulate).backward()
        if (step + 1) % config.accumulate == 0 or step + 1 == parts.steps_per_epoch:
            parts.optimiser.step()
            parts.optimiser.zero_grad(set_to_none=True)
            scheduler_step_after_update(parts.scheduler)
        total_loss += loss.item()
    return total_loss / parts.steps_per_epoch


def epoch_order(parts: TrainingParts, count: int) -> torch.Tensor:
    """The training images of one epoch, in the order they are used."""
    if parts.sample_weights is not None:
        return torch.multinomial(parts.sample_weights, len(parts.sample_weights),
                                 replacement=True, generator=parts.generator)
    return torch.randperm(count, generator=parts.generator)


def validate(parts: TrainingParts, data: ClassifierData) -> dict[str, float]:
    logits = predict_logits(parts.network, data.inputs, data.images["val"], parts.device)
    return selection_metrics(logits, data.labels["val"], data.classes)


def selection_metrics(logits: torch.Tensor, labels: torch.Tensor,
                      classes: list[str]) -> dict[str, float]:
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


@torch.inference_mode()
def predict_logits(network: nn.Module, inputs: ImageInputs | VolumeInputs, stored: torch.Tensor,
                   device: torch.device | str = "cpu", batch_size: int = 128) -> torch.Tensor:
    network.eval()
    outputs = []
    for start in range(0, len(stored), batch_size):
        batch = inputs.batch(stored[start:start + batch_size]).to(device)
        outputs.append(network(batch.contiguous(memory_format=inputs.memory_format)).float().cpu())
    return torch.cat(outputs) if outputs else torch.empty(0, len(inputs.metadata.classes))


def predict_probabilities(classifier: Classifier, inputs: ImageInputs | VolumeInputs,
                          stored: torch.Tensor, batch_size: int = 128) -> np.ndarray:
    """Probabilities through the serving path (bias and test-time flips included)."""
    parts = [classifier.predict_batch(inputs.batch(stored[i:i + batch_size]))
             for i in range(0, len(stored), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, len(classifier.classes)))


def save_checkpoint(parts: TrainingParts, state: dict[str, Any], path: Path) -> None:
    torch.save({"network": parts.network.state_dict(), "optimiser": parts.optimiser.state_dict(),
                "scheduler": parts.scheduler.state_dict(), "generator": parts.generator.get_state(),
                "state": state}, path)


def resume(parts: TrainingParts, path: Path) -> dict[str, Any]:
    """Put the network, optimiser, schedule and random generator back as ``path`` saved
    them; returns the saved state."""
    saved = torch.load(path, map_location=parts.device, weights_only=False)
    parts.network.load_state_dict(saved["network"])
    parts.optimiser.load_state_dict(saved["optimiser"])
    parts.scheduler.load_state_dict(saved["scheduler"])
    parts.generator.set_state(saved["generator"])
    print(f"resumed from epoch {saved['state']['epoch']}", flush=True)
    return saved["state"]
