"""Real-ESRGAN's compact network (SRVGGNetCompact: a plain stack of 3x3 convolutions with PReLU at
the LR size, a pixel shuffle, and the nearest-upsampled input added): the network behind
/predictions/srgan, fine-tuned from Real-ESRGAN's realesr-general-x4v3 (``make pretrained``).

The definition is spandrel's, not a copy: this class only adds what every SR network here carries
(``arch_kwargs`` for checkpoints, ``scale``, tiling, precisions, the tile overlap). Its parameter
names are spandrel's (``body.k``), so a checkpoint's state dict also loads as a foreign Compact.
RGB in [0, 1] in and out; not clamped.
"""

from __future__ import annotations

from spandrel.architectures.Compact import Compact as SRVGGNetCompact


class Compact(SRVGGNetCompact):
    """SRVGGNetCompact x``scale``: ``num_feat`` features, ``num_conv`` body convolutions, PReLU."""

    # 34 3x3 convolutions in a row see 34 LR px each side. Measured tiled against untiled
    # (python -m training.tile_overlap --weights weights/compact_x4_pretrained.pt, 96 px tiles):
    # overlap 24 differs by up to 5.3 grey levels, 32 by 2.5, 40 by 1.6, 48 by 1.3 (73.7 dB).
    TILE_OVERLAP = 40
    tiling = "supported"
    precisions = ("float32", "bfloat16", "float16")

    def __init__(self, scale: int = 4, num_feat: int = 64, num_conv: int = 32):
        super().__init__(num_in_ch=3, num_out_ch=3, num_feat=num_feat, num_conv=num_conv, upscale=scale, act_type="prelu")
        self.arch_kwargs = {"scale": scale, "num_feat": num_feat, "num_conv": num_conv}  # what save_model records
        self.scale = scale
