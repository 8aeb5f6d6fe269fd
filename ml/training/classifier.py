"""Training an image classifier on HAM10000 (lesion-disjoint train / val / test splits).

The network is chosen on the validation split (best epoch, then a post-hoc prior correction
of the logits), and the test split is only used once, at the end, for the reported metrics.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ml.augment import augment
from ml.classifier import Classifier
from ml.datasets import ham10000
from ml.metadata import ModelMetadata
from ml.metrics import classification_metrics
from ml.preprocessing import normalise
from ml.registry import create_model
from ml.training.common import EpochLog, install, machine_description, seed_everything, threads, utc_now

INSTALLED_FILES = ["model.pt", "metadata.json", "config.yaml", "train_log.csv"]


def train(config: dict, run_dir: Path) -> ModelMetadata:
    threads(config.get("threads"))
    generator = seed_everything(int(config.get("seed", 0)))
    data_dir = Path(config["data_dir"])
    size = list(config["input_size"])
    classes = list(ham10000.CLASSES)

    splits = {s: ham10000.read_records(data_dir, s) for s in ("train", "val", "test")}
    limit = config.get("max_images_per_split")
    if limit:
        splits = {s: records[: int(limit)] for s, records in splits.items()}
    started = time.time()
    images = {s: torch.from_numpy(ham10000.load_images(data_dir, r, size)) for s, r in splits.items()}
    labels = {s: torch.tensor([r.label for r in records]) for s, records in splits.items()}
    print(f"loaded {', '.join(f'{s}={len(r)}' for s, r in splits.items())} images "
          f"in {time.time() - started:.1f}s", flush=True)

    train_unit = images["train"].float().div(255.0)
    mean = train_unit.mean(dim=(0, 1, 2)).tolist()
    std = train_unit.std(dim=(0, 1, 2)).tolist()
    del train_unit
    metadata = ModelMetadata(
        name=config["name"], version=str(config["version"]), task="classification",
        architecture=config["architecture"], weights_file="model.pt", classes=classes,
        input_size=size, mean=mean, std=std, gradcam_target_layer=config["gradcam_target_layer"],
    )

    network = create_model(config["architecture"], num_classes=len(classes))
    network = network.to(memory_format=torch.channels_last)
    counts = torch.bincount(labels["train"], minlength=len(classes)).float().clamp(min=1)
    class_weights = (counts.sum() / counts) ** float(config.get("class_weight_power", 0.0))
    class_weights = class_weights / (class_weights * counts).sum() * counts.sum()
    optimiser = torch.optim.AdamW(network.parameters(), lr=float(config["lr"]),
                                  weight_decay=float(config.get("weight_decay", 0.0)))
    batch_size = int(config["batch_size"])
    epochs = int(config["epochs"])
    steps_per_epoch = max(1, len(labels["train"]) // batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=float(config["lr"]), epochs=epochs, steps_per_epoch=steps_per_epoch)
    use_bf16 = bool(config.get("bf16", False))
    log = EpochLog(run_dir / "train_log.csv")

    best_score, best_state, best_epoch = -1.0, None, 0
    for epoch in range(1, epochs + 1):
        network.train()
        order = torch.randperm(len(labels["train"]), generator=generator)
        total_loss = 0.0
        epoch_started = time.time()
        for step in range(steps_per_epoch):
            index = order[step * batch_size:(step + 1) * batch_size]
            batch = images["train"][index].permute(0, 3, 1, 2).float().div_(255.0)
            batch = normalise(augment(batch, generator), metadata)
            batch = batch.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                logits = network(batch)
            loss = F.cross_entropy(logits.float(), labels["train"][index], weight=class_weights,
                                   label_smoothing=float(config.get("label_smoothing", 0.0)))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            scheduler.step()
            total_loss += loss.item()
        val_logits = predict_logits(network, images["val"], metadata)
        val = classification_metrics(labels["val"].numpy(), val_logits.argmax(1).numpy(), classes)
        epoch_score = (val["accuracy"] + val["balanced_accuracy"]) / 2
        if epoch_score > best_score:
            best_score, best_epoch = epoch_score, epoch
            best_state = copy.deepcopy(network.state_dict())
        log.write(epoch=epoch, loss=total_loss / steps_per_epoch, val_accuracy=val["accuracy"],
                  val_balanced_accuracy=val["balanced_accuracy"], val_macro_f1=val["macro_f1"],
                  seconds=round(time.time() - epoch_started, 1))

    network.load_state_dict(best_state)
    val_logits = predict_logits(network, images["val"], metadata)
    prior = counts / counts.sum()
    tau = choose_prior_correction(val_logits, labels["val"], prior, classes)
    metadata.logit_bias = (-tau * torch.log(prior)).tolist()
    metadata.test_time_flips = bool(config.get("test_time_flips", False))
    report = score(Classifier(network, metadata), {s: (images[s], labels[s]) for s in ("val", "test")})
    print(f"best epoch {best_epoch}; prior correction tau={tau:.2f}", flush=True)

    metadata.metrics = {**report, "best_epoch": best_epoch, "prior_correction_tau": tau,
                        "training_seconds": round(time.time() - started)}
    metadata.training_data = config.get("training_data", "")
    metadata.split = ("lesion-disjoint by sha256(lesion_id) % 100: train < 70 <= val < 85 <= "
                      "test; epoch and prior correction chosen on val, test used once")
    metadata.intended_use = config.get("intended_use", "")
    metadata.limitations = config.get("limitations", "")
    metadata.trained_on = machine_description()
    metadata.created = utc_now()
    torch.save({k: v.clone() for k, v in network.state_dict().items()}, run_dir / "model.pt")
    metadata.write(run_dir)
    install(run_dir, config.get("install_dir"), INSTALLED_FILES)
    return metadata


@torch.inference_mode()
def predict_logits(network, images_uint8: torch.Tensor, metadata: ModelMetadata,
                   batch_size: int = 256) -> torch.Tensor:
    network.eval()
    outputs = []
    for start in range(0, len(images_uint8), batch_size):
        batch = normalise(images_uint8[start:start + batch_size], metadata)
        outputs.append(network(batch.contiguous(memory_format=torch.channels_last)).float())
    return torch.cat(outputs) if outputs else torch.empty(0, len(metadata.classes))


def score(classifier: Classifier, splits: dict) -> dict:
    """Metrics of each split through the serving path (bias, test-time flips and all)."""
    report = {}
    for split, (images_uint8, labels) in splits.items():
        predictions = [classifier.predict_batch(normalise(images_uint8[i:i + 256], classifier.metadata))
                       for i in range(0, len(images_uint8), 256)]
        report[split] = classification_metrics(labels.numpy(), np.concatenate(predictions).argmax(1),
                                               classifier.classes)
        print(f"{split}: accuracy={report[split]['accuracy']:.4f} "
              f"balanced_accuracy={report[split]['balanced_accuracy']:.4f} "
              f"macro_f1={report[split]['macro_f1']:.4f}", flush=True)
    return report


def choose_prior_correction(logits, labels, prior, classes) -> float:
    """The strength of logit adjustment (Menon et al. 2021) that best balances accuracy and
    balanced accuracy on the validation split."""
    best_tau, best_score = 0.0, -1.0
    for tau in np.linspace(0.0, 1.0, 11):
        adjusted = logits - tau * torch.log(prior)
        metrics = classification_metrics(labels.numpy(), adjusted.argmax(1).numpy(), classes)
        score = (metrics["accuracy"] + metrics["balanced_accuracy"]) / 2
        if score > best_score + 1e-9:
            best_tau, best_score = float(tau), score
    return best_tau
