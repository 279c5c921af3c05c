"""Video through a transform, frame by frame, with PyAV: H.264 (yuv420p) at the source's frame
rate and time base, every audio stream copied unchanged (remuxed, not re-encoded), the rotation
kept. Decoding, the model and encoding run on three threads with a few frames between them, so
memory does not grow with the clip's length."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from dronesr.cli.transforms import Transform

# Containers that hold H.264 and the usual audio codecs keep their suffix; AVI (no reliable AAC)
# and WebM (VP8/VP9/AV1 only) become Matroska, which holds anything.
OUTPUT_SUFFIX = {".mp4": ".mp4", ".mov": ".mov", ".mkv": ".mkv", ".avi": ".mkv", ".webm": ".mkv"}


@dataclass(frozen=True)
class VideoOptions:
    crf: int = 18  # x264 constant quality (lower is better; 18 is visually lossless for most footage)
    preset: str = "veryfast"  # x264 speed/size trade-off: throughput first (measured: 1.08 vs 0.98 frames/s at medium, 640x360 -> x4)


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


class _Stage(threading.Thread):
    """A pipeline stage on its own thread: ``work(item)`` for each item of ``inbox`` until the end
    marker; the first exception is kept for the caller and stops the stage."""

    def __init__(self, name: str, work: Callable[[object], None], inbox: queue.Queue):
        super().__init__(name=name, daemon=True)
        self.work, self.inbox, self.error = work, inbox, None
        self.cancelled = threading.Event()  # the caller gave up (an error, Ctrl-C): skip the rest

    def run(self) -> None:
        try:
            while (item := self.inbox.get()) is not _END:
                if self.cancelled.is_set():
                    continue
                self.work(item)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, which re-raises it
            self.error = exc
            _drain(self.inbox)


_END = object()  # end of a stage's input
QUEUE_FRAMES = 4  # frames waiting between two stages: bounds memory, enough to ride out jitter


def _drain(inbox: queue.Queue) -> None:
    """Empty ``inbox`` until its end marker so that a producer blocked on it can finish."""
    while inbox.get() is not _END:
        pass


def _put(box: queue.Queue, item: object, consumer: _Stage) -> None:
    """``box.put(item)`` that gives up when the consumer died (its error is raised by the caller)."""
    while True:
        if consumer.error is not None or not consumer.is_alive():
            raise _StageFailed
        try:
            box.put(item, timeout=0.5)
            return
        except queue.Full:
            continue


class _StageFailed(Exception):
    """A downstream stage stopped; its own exception is the one reported."""


def process_video(
    source: Path,
    target: Path,
    transform: Transform,
    options: VideoOptions = VideoOptions(),
    progress: Callable[[int, int], None] | None = None,
    keep_metadata: bool = True,
    provenance: str | None = None,
) -> VideoResult:
    """Write ``source`` through ``transform`` to ``target`` (its suffix picks the container).
    ``progress(done, total)`` is called after each frame (total 0 when the container does not say).
    ``keep_metadata`` copies the container's tags (creation time, a drone's GPS ``location``);
    ``provenance`` (dronesr/image/provenance.py, its header form) goes into the ``comment`` tag.

    Three stages overlap: this thread demuxes and decodes, a model thread runs the transform, a
    writer thread encodes and muxes (audio packets travel through the same queues, so the output
    keeps the source's order). Decoding, x264 and PyTorch release the GIL while they work.
    """
    started = time.perf_counter()
    with av.open(str(source)) as source_file:
        if not source_file.streams.video:
            raise ValueError("the file has no video stream")
        video_in = source_file.streams.video[0]
        size = transform.result_size(video_in.codec_context.width, video_in.codec_context.height)
        with av.open(str(target), "w") as target_file:
            if keep_metadata:
                target_file.metadata.update(source_file.metadata)
            if provenance:
                target_file.metadata["comment"] = f"dronesr provenance: {provenance}"
            pipeline = _Pipeline(source_file, target_file, transform, size, options, progress)
            pipeline.run(first_frame_rotation(source))
    return VideoResult(pipeline.done, time.perf_counter() - started, size)


class _Pipeline:
    """One video's streams and the three stages between them: decode (the caller's thread) ->
    model -> encode, with audio packets passed through in order."""

    def __init__(self, source_file, target_file, transform: Transform, size: tuple[int, int], options: VideoOptions,
                 progress: Callable[[int, int], None] | None):
        self.source_file, self.target_file, self.transform, self.progress = source_file, target_file, transform, progress
        self.video_in = source_file.streams.video[0]
        self.audio_in = list(source_file.streams.audio)
        self.rate = self.video_in.average_rate or self.video_in.guessed_rate or Fraction(30)
        self.total = self.video_in.frames or expected_frames(source_file, self.video_in, self.rate)
        self.size, self.options, self.done = size, options, 0

    def open_output(self, rotation: int) -> None:
        """The H.264 stream at the source's rate and time base (even sides for yuv420p), its
        rotation, and a copy of every audio stream; before anything is muxed (the header holds them)."""
        width, height = self.size
        video_out = self.target_file.add_stream("libx264", rate=self.rate, options={"crf": str(self.options.crf), "preset": self.options.preset})
        video_out.width, video_out.height = width - width % 2, height - height % 2
        video_out.pix_fmt = "yuv420p"
        video_out.time_base = video_out.codec_context.time_base = self.video_in.time_base
        if rotation:
            video_out.set_display_rotation(rotation)
        self.video_out = video_out
        self.audio_out = {stream.index: self.target_file.add_stream_from_template(stream) for stream in self.audio_in}

    def write(self, item: object) -> None:
        """The encode stage: an audio packet muxed as it is, a frame encoded."""
        if isinstance(item, av.Packet):
            self.target_file.mux(item)
            return
        pixels, pts, time_base = item
        out = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        out.pts, out.time_base = pts, time_base
        self.target_file.mux(self.video_out.encode(out))

    def enlarge(self, item: object) -> None:
        """The model stage: a frame through the transform, an audio packet passed on."""
        if isinstance(item, av.Packet):
            _put(self.enlarged, item, self.writer)
            return
        rgb, pts, time_base = item
        if pts is None:  # containers without timestamps (some AVI): count frames at the frame rate
            pts, time_base = round(self.done / self.rate / self.video_in.time_base), self.video_in.time_base
        pixels = self.transform.frame(rgb)[: self.video_out.height, : self.video_out.width]
        _put(self.enlarged, (np.ascontiguousarray(pixels), pts, time_base), self.writer)
        self.done += 1
        if self.progress:
            self.progress(self.done, self.total)

    def decode(self) -> None:
        """The decode stage, on the caller's thread: demux, decode, hand on."""
        for packet in self.source_file.demux(self.video_in, *self.audio_in):
            if packet.stream.type == "audio":
                if packet.dts is not None:  # the demuxer's flush packet has none
                    packet.stream = self.audio_out[packet.stream.index]
                    _put(self.decoded, packet, self.model)
                continue
            for frame in packet.decode():
                _put(self.decoded, (frame.to_ndarray(format="rgb24"), frame.pts, frame.time_base), self.model)

    def run(self, rotation: int) -> None:
        """All three stages; the first error of any is raised here, after all have stopped."""
        self.open_output(rotation)
        self.decoded, self.enlarged = queue.Queue(QUEUE_FRAMES), queue.Queue(QUEUE_FRAMES)
        self.writer = _Stage("video-encode", self.write, self.enlarged)
        self.model = _Stage("video-model", self.enlarge, self.decoded)
        self.writer.start()
        self.model.start()
        try:
            self.decode()
        except _StageFailed:
            pass
        except BaseException:
            self.model.cancelled.set()
            self.writer.cancelled.set()
            raise
        finally:
            _finish(self.model, self.decoded)
            _finish(self.writer, self.enlarged)
        for stage in (self.model, self.writer):
            if stage.error is not None and not isinstance(stage.error, _StageFailed):
                raise stage.error
        self.target_file.mux(self.video_out.encode(None))


def _finish(stage: _Stage, inbox: queue.Queue) -> None:
    """Send the end marker (the stage drains its queue after an error, so this never blocks for
    long) and wait for the stage."""
    inbox.put(_END)
    stage.join()
