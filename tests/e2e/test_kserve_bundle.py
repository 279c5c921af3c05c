"""`make kserve-bundle`, then TorchServe started from the bundle the way KServe's TorchServe runtime
starts it (`torchserve --start --model-store ... --ts-config ...`, with TS_SERVICE_ENVELOPE=kserve
in the environment as the runtime sets it for protocolVersion v1), answering KServe v1 JSON.

The bundle's config binds the pod's loopback (127.0.0.1:8085, metrics 127.0.0.1:8082); the test runs a copy rewritten to free loopback
ports (inference and management still sharing one port, as in the pod). What this cannot test: the
KServe wrapper, the storage initializer and the ingress, which exist only in a cluster."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import requests
from PIL import Image

from harness import read_properties, torchserve
from tests.helpers import ROOT, SHIPPED_MODELS, encode, synthetic_photo

BUNDLE = ROOT / "bundle"
MODELS = SHIPPED_MODELS
SR_MODELS = ["srgan", "srresnet"]


def loopback_config(source: Path, workdir: Path) -> tuple[Path, int]:
    """The bundle's config with every listener on a free loopback port (tests never bind 0.0.0.0) and
    the model store at the bundle's absolute path. Returns (config, the inference+management port)."""
    api = torchserve.free_port()
    replacements = {
        "inference_address": f"http://127.0.0.1:{api}",
        "management_address": f"http://127.0.0.1:{api}",
        "metrics_address": f"http://127.0.0.1:{torchserve.free_port()}",
        "model_store": str(BUNDLE / "model-store"),
    }
    text = source.read_text()
    for key, value in replacements.items():
        text, count = re.subn(rf"^{key}=.*$", f"{key}={value}", text, flags=re.MULTILINE)
        assert count == 1, f"{key} is not set exactly once in {source}"
    text = re.sub(r"^grpc_(inference|management)_port=.*$", "", text, flags=re.MULTILINE) + torchserve.private_ports()
    config = workdir / "config.properties"
    config.write_text(text)
    return config, api


@pytest.fixture(scope="module")
def bundle():
    # the shipped models only, whatever else a developer has archived into model_store/
    env = {**os.environ, "MODELS": " ".join(MODELS)}
    result = subprocess.run(["make", "kserve-bundle"], check=False, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return BUNDLE


@pytest.fixture(scope="module")
def api(bundle, tmp_path_factory) -> str:
    """TorchServe started from the bundle; yields its inference (= management) base URL."""
    workdir = tmp_path_factory.mktemp("kserve")
    config, port = loopback_config(bundle / "config" / "config.properties", workdir)
    env = torchserve.torchserve_env(workdir, TS_SERVICE_ENVELOPE="kserve")  # as the runtime sets it for v1
    base = f"http://127.0.0.1:{port}"
    server = torchserve.Server(base, base, "", workdir, env)
    torchserve.launch(workdir, env, ["--model-store", str(bundle / "model-store"), "--ts-config", str(config)])
    try:
        if torchserve.wait_ready(base, MODELS):
            pytest.fail(f"{MODELS} not READY from the bundle\n{server.logs()}")
        yield base
    finally:
        server.stop()


def test_bundle_has_the_runtime_layout_and_pod_addresses(bundle):
    config = read_properties(bundle / "config" / "config.properties")
    assert config["inference_address"] == "http://127.0.0.1:8085"
    assert config["management_address"] == "http://127.0.0.1:8085"  # loopback: no token needed, unreachable from outside the pod
    assert config["metrics_address"] == "http://127.0.0.1:8082"
    assert not [key for key, value in config.items() if "0.0.0.0" in value]
    assert config["model_store"] == "/mnt/models/model-store"
    assert config["enable_envvars_config"] == "false"  # keeps TS_SERVICE_ENVELOPE=kserve out (see the config)
    local = read_properties(ROOT / "config.properties")
    for key in ("max_request_size", "max_response_size", "disable_token_authorization"):
        assert config[key] == local[key], key
    snapshot = json.loads(config["model_snapshot"])
    assert sorted(snapshot["models"]) == MODELS and snapshot["modelCount"] == len(MODELS)
    for model, versions in snapshot["models"].items():
        assert (bundle / "model-store" / versions["1.0"]["marName"]).is_file(), model


@pytest.mark.parametrize("model", SR_MODELS)
@pytest.mark.parametrize("route", ["/predictions/{model}", "/v1/models/{model}:predict"])
def test_kserve_v1_json_gives_base64_png_four_times_larger(api, route, model):
    photo = encode(synthetic_photo(40, 30), "PNG")
    payload = {"instances": [{"b64": base64.b64encode(photo).decode("ascii")}]}
    response = requests.post(api + route.format(model=model), json=payload, timeout=120)
    assert response.status_code == 200, response.text
    [prediction] = response.json()["predictions"]
    assert prediction["content_type"] == "image/png" and prediction["size"] == "160x120"
    image = Image.open(io.BytesIO(base64.b64decode(prediction["b64"])))
    assert image.format == "PNG" and image.size == (160, 120)


def test_kserve_v1_client_error_is_4xx_json(api):
    response = requests.post(f"{api}/v1/models/srgan:predict", json={"instances": [{"b64": "not base64!"}]}, timeout=60)
    assert response.status_code == 400 and "base64" in response.json()["message"]


def test_v1_model_readiness(api):
    response = requests.get(f"{api}/v1/models/srgan", timeout=10)
    assert response.status_code == 200 and response.json() == {"name": "srgan", "ready": True}


def test_gpu_bundle_asks_for_gpus_and_hands_them_to_workers(bundle, tmp_path):
    """`make kserve-bundle GPU=1`: the InferenceService requests a GPU (KServe then runs the
    runtime's -gpu image) and TorchServe gives it to the workers; the default bundle stays on CPUs."""
    import yaml

    assert read_properties(bundle / "config" / "config.properties")["number_of_gpu"] == "0"
    cpu = yaml.safe_load((bundle / "inferenceservice.yaml").read_text())["spec"]["predictor"]["model"]["resources"]
    assert "nvidia.com/gpu" not in cpu["limits"]
    env = {**os.environ, "MODELS": "srgan", "GPU": "1"}
    subprocess.run(["bash", "scripts/kserve_bundle.sh", str(tmp_path)], check=True, cwd=ROOT, capture_output=True, env=env, timeout=120)
    assert read_properties(tmp_path / "config" / "config.properties")["number_of_gpu"] == "1"
    gpu = yaml.safe_load((tmp_path / "inferenceservice.yaml").read_text())["spec"]["predictor"]["model"]["resources"]
    assert gpu["limits"]["nvidia.com/gpu"] == gpu["requests"]["nvidia.com/gpu"] == "1"
    refused = subprocess.run(["bash", "scripts/kserve_bundle.sh", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, env={**env, "GPU": "yes"})
    assert refused.returncode == 2 and "GPU must be a number" in refused.stderr
