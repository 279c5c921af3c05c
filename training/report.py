"""Pictures a training run writes as it goes: a sample grid and a training curve (PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from dronesr.image.codecs import tensor_to_rgb  # noqa: E402


def to_pil(image: torch.Tensor) -> Image.Image:
    """CHW float [0,1] -> PIL RGB."""
    return Image.fromarray(tensor_to_rgb(image.unsqueeze(0)))


def save_image_grid(rows: list[list[torch.Tensor]], labels: list[str], path: Path, cell: int = 192) -> None:
    """Rows of equally many CHW images, each resized (nearest, so pixels stay visible) to a cell."""
    header = 18
    grid = Image.new("RGB", (cell * len(labels), header + cell * len(rows)), "white")
    draw = ImageDraw.Draw(grid)
    for col, label in enumerate(labels):
        draw.text((col * cell + 4, 3), label, fill="black")
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            grid.paste(to_pil(image).resize((cell, cell), Image.NEAREST), (c * cell, header + r * cell))
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(path)


def save_curves(history: list[dict], path: Path, title: str) -> None:
    """Training loss and validation PSNR against the step."""
    fig, (ax_loss, ax_psnr) = plt.subplots(1, 2, figsize=(10, 3.6))
    train = [h for h in history if "loss" in h]
    val = [h for h in history if "val_psnr" in h]
    if train:
        ax_loss.plot([h["step"] for h in train], [h["loss"] for h in train])
        ax_loss.set_yscale("log")
    ax_loss.set(xlabel="step", ylabel="generator loss", title="training loss")
    if val:
        ax_psnr.plot([h["step"] for h in val], [h["val_psnr"] for h in val], marker="o", label="model")
        ax_psnr.plot([h["step"] for h in val], [h["val_bicubic_psnr"] for h in val], linestyle="--", label="bicubic")
        ax_psnr.legend()
    ax_psnr.set(xlabel="step", ylabel="PSNR Y (dB)", title="validation")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
