"""Frames per second of ``dronesr upscale`` on video, on this machine: the issue's clip (3 s of
640x360 at 30 fps with an AAC track -> 2560x1440 H.264) through the same code as the command
(dronesr/cli/video.py), and a few 1920x1080 frames (-> 7680x4320) to say what a 1080p drone clip
costs. Clips are synthetic (a moving bar on a gradient): the model's time does not depend on what
the pixels show. Run on an idle machine.

    python -m bench.video_bench                      # srgan, the 3 s clip and 3 frames of 1080p
    python -m bench.video_bench --seconds 1 --hd-frames 0
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch

from dronesr.cli.transforms import UpscaleTransform
from dronesr.sr.plan import UpscalePlan
from dronesr.sr.resolver import SuperResolver
from dronesr.cli.video import VideoOptions, process_video
from dronesr.limits import MAX_INPUT_PIXELS, MAX_OUTPUT_PIXELS
from dronesr.precision import DEVICES, hardware, resolve_device

AUDIO_RATE = 44100


def make_clip(path: Path, size: tuple[int, int], fps: int, frames: int, rotation: int = 0, audio: bool = True) -> None:
    """An H.264 clip (yuv420p) with an AAC stereo tone as long as the video, optionally rotated."""
    width, height = size
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        sound = out.add_stream("aac", rate=AUDIO_RATE, layout="stereo") if audio else None
        ramp = np.linspace(40, 200, width, dtype=np.float32)[None, :, None]
        for i in range(frames):
            frame = np.broadcast_to(ramp, (height, width, 3)).astype(np.uint8)
            bar = (i * 20) % max(1, width - 40)
            frame[:, bar : bar + 40] = 230
            out.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(video.encode(None))
        if sound is not None:
            for start in range(0, round(AUDIO_RATE * frames / fps), 1024):
                tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(start, start + 1024) / AUDIO_RATE)).astype(np.float32)
                samples = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
                samples.sample_rate, samples.pts = AUDIO_RATE, start
                out.mux(sound.encode(samples))
            out.mux(sound.encode(None))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="srgan", help="srgan, srresnet or a weights file (default: srgan)")
    p.add_argument("--seconds", type=float, default=3.0, help="length of the 640x360 clip (default: 3)")
    p.add_argument("--fps", type=int, default=30, help="its frame rate (default: 30)")
    p.add_argument("--hd-frames", type=int, default=3, help="1920x1080 frames to time (0: skip) (default: 3)")
    p.add_argument("--preset", default=VideoOptions.preset, help=f"x264 preset (default: {VideoOptions.preset}, the command's)")
    p.add_argument("--precision", default="auto", help="as the command's --precision (default: auto)")
    p.add_argument("--device", default="auto", choices=DEVICES, help="as the command's --device (default: auto: the GPU when there is one)")
    return p.parse_args(argv)


def run_clip(transform: UpscaleTransform, size: tuple[int, int], fps: int, frames: int, preset: str, folder: Path) -> tuple[float, float]:
    """(frames/s of the whole pipeline, seconds of the model alone per frame)."""
    source, target = folder / f"in_{size[0]}x{size[1]}.mp4", folder / f"out_{size[0]}x{size[1]}.mp4"
    make_clip(source, size, fps, frames)
    result = process_video(source, target, transform, VideoOptions(preset=preset))
    rgb = np.full((size[1], size[0], 3), 120, np.uint8)
    started = time.perf_counter()
    transform.frame(rgb)
    return result.fps, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sr = SuperResolver.open(args.model, resolve_device(args.device), precision=args.precision)
    transform = UpscaleTransform.open(sr, UpscalePlan.from_options(sr.info.scale), MAX_INPUT_PIXELS, MAX_OUTPUT_PIXELS)
    print(f"model: {transform.summary}")
    print(f"machine: {hardware()}, {torch.get_num_threads()} torch threads; x264 preset {args.preset}; decode, model and encode pipelined")
    with tempfile.TemporaryDirectory() as folder:
        frames = round(args.seconds * args.fps)
        fps, model_s = run_clip(transform, (640, 360), args.fps, frames, args.preset, Path(folder))
        print(f"640x360 -> 2560x1440, {frames} frames ({args.seconds:g} s at {args.fps} fps): {fps:.3f} frames/s "
              f"({1 / fps:.2f} s per frame, of which the model {model_s:.2f} s); the clip takes {frames / fps:.0f} s")
        if args.hd_frames:
            fps, model_s = run_clip(transform, (1920, 1080), args.fps, args.hd_frames, args.preset, Path(folder))
            per_minute = 60 * 30 / fps
            print(f"1920x1080 -> 7680x4320, {args.hd_frames} frames: {1 / fps:.1f} s per frame (the model {model_s:.1f} s); "
                  f"one minute of 30 fps 1080p footage: about {per_minute / 3600:.1f} h")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
