import pytest
import torch
import torch.nn.functional as F

from ml.augment import AugmentConfig, augment
from ml.training.losses import focal_loss


def test_focal_loss_with_gamma_zero_is_cross_entropy():
    logits = torch.randn(6, 3)
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    assert focal_loss(logits, targets, gamma=0.0) == pytest.approx(
        F.cross_entropy(logits, targets).item(), rel=1e-5)


def test_focal_loss_discounts_easy_examples():
    easy = torch.tensor([[8.0, 0.0]])
    hard = torch.tensor([[0.5, 0.0]])
    target = torch.tensor([0])
    ratio_easy = focal_loss(easy, target) / F.cross_entropy(easy, target)
    ratio_hard = focal_loss(hard, target) / F.cross_entropy(hard, target)
    assert ratio_easy < ratio_hard


def test_augment_options_are_checked_and_a_disabled_augment_changes_nothing():
    with pytest.raises(ValueError, match="unknown augmentation option"):
        AugmentConfig.from_config({"rotate": 10})
    batch = torch.rand(2, 3, 16, 16)
    generator = torch.Generator().manual_seed(0)
    assert torch.equal(augment(batch.clone(), generator, AugmentConfig()), batch)
    changed = augment(batch.clone(), generator, AugmentConfig(rotation_deg=10, noise=0.05))
    assert changed.shape == batch.shape and not torch.equal(changed, batch)
    assert changed.min() >= 0 and changed.max() <= 1
