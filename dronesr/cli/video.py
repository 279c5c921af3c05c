"""Video through a transform, frame by frame, with PyAV: H.264 (yuv420p) at the source's frame
rate and time base, every audio stream copied unchanged (remuxed, not re-encoded), the rotation
kept. Frames stream through one at a time, so memory does not grow with the clip's length."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from dronesr.cli.transforms import Transform

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm")
# Containers that hold H.264 and the usual audio codecs keep their suffix; AVI (no reliable AAC)
# and WebM (VP8/VP9/AV1 only) become Matroska, which holds anything.
OUTPUT_SUFFIX = {".mp4": ".mp4", ".mov": ".mov", ".mkv": ".mkv", ".avi": ".mkv", ".webm": ".mkv"}


@dataclass(frozen=True)
class VideoOptions:
    crf: int = 18  # x264 constant quality (lower is better; 18 is visually lossless for most footage)
    preset: str = "medium"  # x264 speed/size trade-off


@dataclass
class VideoResult:
    frames: int
    seconds: float
    size: tuple[int, int]

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def expected_frames(container: av.container.InputContainer, stream: av.video.stream.VideoStream, rate: Fraction) -> int:
    """Frame count for the progress bar when the container does not store one (Matroska, WebM):
    duration x frame rate; 0 when unknown."""
    if stream.duration is not None and stream.time_base is not None:
        return round(float(stream.duration * stream.time_base * rate))
    if container.duration is not None:
        return round(container.duration / av.time_base * float(rate))
    return 0


def first_frame_rotation(source: Path) -> int:
    """The display rotation of the first video frame (degrees counter-clockwise; 0 when none)."""
    with av.open(str(source)) as container:
        for frame in container.decode(video=0):
            return frame.rotation
    return 0


def process_video(
    source: Path,
    target: Path,
    transform: Transform,
    options: VideoOptions = VideoOptions(),
    progress: Callable[[int, int], None] | None = None,
    keep_metadata: bool = True,
) -> VideoResult:
    """Write ``source`` through ``transform`` to ``target`` (its suffix picks the container).
    ``progress(done, total)`` is called after each frame (total 0 when the container does not say).
    ``keep_metadata`` copies the container's tags (creation time, a drone's GPS ``location``)."""
    started = time.perf_counter()
    with av.open(str(source)) as source_file:
        if not source_file.streams.video:
            raise ValueError("the file has no video stream")
        video_in = source_file.streams.video[0]
        audio_in = list(source_file.streams.audio)
        width, height = transform.result_size(video_in.codec_context.width, video_in.codec_context.height)
        rate = video_in.average_rate or video_in.guessed_rate or Fraction(30)
        total = video_in.frames or expected_frames(source_file, video_in, rate)
        with av.open(str(target), "w") as target_file:
            if keep_metadata:
                target_file.metadata.update(source_file.metadata)
            video_out = target_file.add_stream("libx264", rate=rate, options={"crf": str(options.crf), "preset": options.preset})
            video_out.width, video_out.height = width - width % 2, height - height % 2  # yuv420p needs even sides
            video_out.pix_fmt = "yuv420p"
            video_out.time_base = video_in.time_base
            video_out.codec_context.time_base = video_in.time_base
            rotation = first_frame_rotation(source)
            if rotation:  # before anything is muxed: the container header carries it
                video_out.set_display_rotation(rotation)
            audio_out = {stream.index: target_file.add_stream_from_template(stream) for stream in audio_in}
            done = 0
            for packet in source_file.demux(video_in, *audio_in):
                if packet.stream.type == "audio":
                    if packet.dts is not None:  # the demuxer's flush packet has none
                        packet.stream = audio_out[packet.stream.index]
                        target_file.mux(packet)
                    continue
                for frame in packet.decode():
                    pixels = transform.frame(frame.to_ndarray(format="rgb24"))[: video_out.height, : video_out.width]
                    out = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                    if frame.pts is not None:
                        out.pts, out.time_base = frame.pts, frame.time_base
                    else:  # containers without timestamps (some AVI): count frames at the frame rate
                        out.pts, out.time_base = round(done / rate / video_in.time_base), video_in.time_base
                    target_file.mux(video_out.encode(out))
                    done += 1
                    if progress:
                        progress(done, total)
            target_file.mux(video_out.encode(None))
    return VideoResult(done, time.perf_counter() - started, (width, height))
