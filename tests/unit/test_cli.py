"""The ``dronesr`` command on photos, folders and a drone-like clip with audio (in process; a tiny
random SRResNet via ``--model FILE`` keeps it fast: the pipeline is under test, not the weights)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from bench import video_bench
from dronesr.cli.main import main
from tests.helpers import ROOT, assert_camera_metadata_kept, assert_no_metadata, camera_jpeg, encode, synthetic_photo

CLIP_SIZE, CLIP_FPS, CLIP_SECONDS, CLIP_ROTATION = (640, 360), 10, 3, 90


def make_clip(path: Path) -> None:
    """An H.264 clip with an AAC stereo track and a display rotation, like a phone or drone's."""
    video_bench.make_clip(path, CLIP_SIZE, CLIP_FPS, CLIP_FPS * CLIP_SECONDS, rotation=CLIP_ROTATION)


def probe(path: Path) -> dict:
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        frames = list(container.decode(video))
        return {
            "frames": len(frames),
            "rate": video.average_rate,
            "size": (video.codec_context.width, video.codec_context.height),
            "rotation": frames[0].rotation,
            "audio_seconds": float(audio.duration * audio.time_base),
            "audio_codec": audio.codec_context.name,
            "pix_fmt": video.codec_context.pix_fmt,
            "codec": video.codec_context.name,
        }


def run(*args: str | Path) -> int:
    return main([str(a) for a in args])


def test_folder_with_photos_a_corrupt_file_and_a_clip(tmp_path, tiny_weights, capsys):
    source = tmp_path / "flight"
    (source / "day2").mkdir(parents=True)
    (source / "a.jpg").write_bytes(encode(synthetic_photo(64, 48), "JPEG", quality=90))
    (source / "day2" / "b.png").write_bytes(encode(synthetic_photo(40, 30, seed=1)))
    (source / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    make_clip(source / "day2" / "clip.mp4")
    out = tmp_path / "out"

    status = run("upscale", source, "-o", out, "--model", tiny_weights, "--preset", "ultrafast")
    err = capsys.readouterr().err

    assert status == 1  # something failed
    assert f"failed: {source / 'broken.jpg'}:" in err  # the summary names it, with a reason
    assert Image.open(out / "a.jpg").size == (256, 192)
    assert Image.open(out / "day2" / "b.png").size == (160, 120)
    before, after = probe(source / "day2" / "clip.mp4"), probe(out / "day2" / "clip.mp4")
    assert after["size"] == (2560, 1440)
    assert after["frames"] == before["frames"] == CLIP_FPS * CLIP_SECONDS
    assert after["rate"] == before["rate"] == CLIP_FPS
    assert (after["codec"], after["pix_fmt"]) == ("h264", "yuv420p")
    assert after["audio_codec"] == "aac" and after["audio_seconds"] == pytest.approx(before["audio_seconds"], abs=1e-3)
    assert after["rotation"] == before["rotation"] == CLIP_ROTATION
    with av.open(str(out / "day2" / "clip.mp4")) as container:  # the provenance record, as the container's comment
        assert "weights_sha256=" in container.metadata.get("comment", "")
    assert not [p for p in out.rglob(".*")], "a temporary file was left behind"

    # Run again: everything written is skipped; --overwrite redoes it.
    assert run("upscale", source / "a.jpg", "-o", out, "--model", tiny_weights) == 0
    assert "1 skipped" in capsys.readouterr().err
    assert run("upscale", source / "a.jpg", "-o", out, "--model", tiny_weights, "--overwrite", "--format", "webp") == 0
    assert Image.open(out / "a.webp").format == "WEBP"


def test_camera_metadata_kept_and_stripped(tmp_path, tiny_weights):
    photo = tmp_path / "dji.jpg"
    photo.write_bytes(camera_jpeg())
    assert run("upscale", photo, "-o", tmp_path / "kept", "--model", tiny_weights) == 0
    assert_camera_metadata_kept((tmp_path / "kept" / "dji.jpg").read_bytes(), 4)
    assert run("upscale", photo, "-o", tmp_path / "stripped", "--model", tiny_weights, "--strip-metadata") == 0
    assert_no_metadata((tmp_path / "stripped" / "dji.jpg").read_bytes())


def test_over_limit_file_is_reported_and_the_batch_goes_on(tmp_path, tiny_weights, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "big.png").write_bytes(encode(synthetic_photo(200, 100)))
    (tmp_path / "in" / "small.png").write_bytes(encode(synthetic_photo(20, 10)))
    status = run("upscale", tmp_path / "in", "-o", tmp_path / "out", "--model", tiny_weights, "--max-output-pixels", "100000")
    err = capsys.readouterr().err
    assert status == 1 and "big.png" in err and "--max-output-pixels" in err
    assert (tmp_path / "out" / "small.png").exists() and not (tmp_path / "out" / "big.png").exists()


def test_stylize_with_the_shipped_weights_and_a_wrong_style(tmp_path, capsys):
    photo = tmp_path / "p.png"
    photo.write_bytes(encode(synthetic_photo(48, 32)))
    assert run("stylize", photo, "-o", tmp_path / "out", "--style", "udnie", "--blend", "mosaic:0.3", "--strength", "0.8") == 0
    result = np.asarray(Image.open(tmp_path / "out" / "p.png"))
    assert result.shape == (32, 48, 3) and not np.array_equal(result, synthetic_photo(48, 32))
    with pytest.raises(SystemExit) as exit_info:
        run("stylize", photo, "-o", tmp_path / "out2", "--style", "nope")
    assert exit_info.value.code == 2
    assert "available styles" in capsys.readouterr().err


def test_unknown_model_and_missing_input_are_exit_messages(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run("upscale", tmp_path / "missing.png", "-o", tmp_path / "out")
    assert exit_info.value.code == 2 and "no such file" in capsys.readouterr().err
    (tmp_path / "p.png").write_bytes(encode(synthetic_photo(8, 8)))
    with pytest.raises(SystemExit):
        run("upscale", tmp_path / "p.png", "-o", tmp_path / "out", "--model", "nonexistent")
    assert "no such model" in capsys.readouterr().err


def test_the_console_command_and_python_m_show_help_with_defaults():
    command = Path(sys.executable).parent / "dronesr"
    assert command.exists(), "make install installs the dronesr command into .venv"
    for argv in ([str(command), "upscale", "--help"], [sys.executable, "-m", "dronesr", "stylize", "--help"]):
        result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert result.returncode == 0 and "(default:" in result.stdout


def test_ctrl_c_during_a_video_leaves_no_partial_output(tmp_path, tiny_weights):
    clip, out = tmp_path / "clip.mp4", tmp_path / "out"
    make_clip(clip)
    process = subprocess.Popen(
        [sys.executable, "-m", "dronesr", "upscale", str(clip), "-o", str(out), "--model", str(tiny_weights), "--preset", "ultrafast"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # A shell's background job (CI started with `&`) ignores SIGINT, and so would the child,
        # whose Python then installs no Ctrl-C handler: give it the default disposition back.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob(".*partial*")) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        assert list(out.glob(".*partial*")), "the run never started writing"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err.decode()[-500:]
    assert "interrupted" in err.decode()
    assert not [p for p in out.rglob("*") if p.is_file()], "a partial output was left behind"
