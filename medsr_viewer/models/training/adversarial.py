"""SRGAN-style adversarial fine-tuning of an SR generator: the perceptual variant.

A pixel loss alone makes SR models average over the textures a low-resolution patch could
have come from, which is what maximises PSNR but looks smooth. An adversarial term pushes the
generator towards outputs a discriminator cannot tell from real high-resolution patches:
sharper texture, lower PSNR by design. Such a model is for looking at, not for measuring, and
its card says so.

The discriminator is trained inside the generator's loss function, so the shared training
loop (:func:`medsr_viewer.models.training.loop.train`) runs the GAN unchanged: each call of
:class:`AdversarialLoss` takes one discriminator step on the detached output, then returns the
generator's loss.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from medsr_viewer.models.archive import load_model

#: Card text for every adversarially fine-tuned model.
PERCEPTUAL_NOTE = (
    "PERCEPTUAL VARIANT (adversarial fine-tuning): sharper texture, lower PSNR by design; "
    "may invent detail - for visual comparison, not for measurement or diagnosis"
)


class PatchDiscriminator(nn.Module):
    """A small fully convolutional critic scoring each receptive-field patch as real or not.

    Parameters
    ----------
    channels
        Channels of the first layer, doubled at each of the stride-2 layers.
    levels
        Number of stride-2 layers (the receptive field grows with it).
    """

    def __init__(self, channels: int = 32, levels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(1, channels, 3, padding=1), nn.LeakyReLU(0.2)]
        width = channels
        for _ in range(levels):
            layers += [
                nn.utils.spectral_norm(nn.Conv2d(width, width * 2, 4, stride=2, padding=1)),
                nn.LeakyReLU(0.2),
            ]
            width *= 2
        layers.append(nn.Conv2d(width, 1, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Real/fake logits per patch, shape (N, 1, H / 2**levels, W / 2**levels)."""
        return self.body(x)


class AdversarialLoss:
    """Generator loss ``L1 + weight * adversarial`` that also trains its discriminator.

    Parameters
    ----------
    weight
        Weight of the adversarial term against the L1 pixel loss (SRGAN used 1e-3 against a
        VGG content loss; with L1, values around 5e-3 sharpen without hallucinating much).
    lr
        Adam learning rate of the discriminator.
    device
        Where the discriminator lives (the generator's device).
    """

    def __init__(self, weight: float, lr: float = 1e-4,
                 device: torch.device | str = "cpu") -> None:
        self.weight = weight
        self.discriminator = PatchDiscriminator().to(device)
        self.optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=lr,
                                          betas=(0.5, 0.999))
        self.last_d_loss = float("nan")
        self._sums = [0.0, 0.0, 0]  # discriminator loss, adversarial term, calls

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """One discriminator step, then the generator's loss for ``pred`` (differentiable)."""
        disc = self.discriminator
        disc.train()
        real, fake = disc(target), disc(pred.detach())
        d_loss = (F.binary_cross_entropy_with_logits(real, torch.full_like(real, 0.9))
                  + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
        self.optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimizer.step()
        self.last_d_loss = float(d_loss.detach())
        for p in disc.parameters():
            p.requires_grad_(False)
        try:
            judged = disc(pred)
            adv = F.binary_cross_entropy_with_logits(judged, torch.ones_like(judged))
        finally:
            for p in disc.parameters():
                p.requires_grad_(True)
        self._sums[0] += self.last_d_loss
        self._sums[1] += float(adv.detach())
        self._sums[2] += 1
        return F.l1_loss(pred, target) + self.weight * adv

    def report(self) -> str:
        """Mean discriminator loss and adversarial term since the last report (then reset):
        a discriminator loss near 0 means it has won and the generator learns nothing."""
        d_sum, adv_sum, n = self._sums
        self._sums = [0.0, 0.0, 0]
        if not n:
            return ""
        return f"D loss {d_sum / n:.3f} adversarial {adv_sum / n:.3f}"

    def state_dict(self) -> dict[str, Any]:
        """Discriminator and optimiser state, for the run's checkpoint."""
        return {"discriminator": self.discriminator.state_dict(),
                "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (resuming a run)."""
        self.discriminator.load_state_dict(state["discriminator"])
        self.optimizer.load_state_dict(state["optimizer"])


def load_initial_weights(model: nn.Module, path: Path, arch: str, scale: int) -> None:
    """Copy the weights of an exported model into ``model`` (the start of a fine-tuning run).

    Raises
    ------
    ValueError
        Naming ``path`` when its card's architecture or scale differs, or the weights do not
        fit ``model`` (other ``--arch-kwargs``).
    """
    loaded = load_model(path)
    card = loaded.card
    if card.architecture != arch or card.scale != scale:
        raise ValueError(f"{path}: is a {card.architecture!r} x{card.scale} model; this run "
                         f"trains {arch!r} x{scale}")
    try:
        model.load_state_dict(loaded.module.state_dict())
    except RuntimeError as exc:
        raise ValueError(f"{path}: weights do not fit the network built from --arch-kwargs "
                         f"(use the card's: {card.training.get('arch_kwargs', {})})") from exc
