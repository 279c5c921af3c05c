"""A TorchServe request -> images and their text parameters: raw bodies with ``X-Dronesr-*``
headers, multipart forms, KServe v1 JSON; parameter names checked, client text never echoed raw."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from dronesr.image.codecs import OUTPUT_FORMATS
from dronesr.errors import ClientError, echo
from dronesr.parameters import accepted, names as parameter_names, sr_scopes
from dronesr.sr.weights import NetworkInfo

# Request keys that may carry the image: the raw body, or a multipart file under a usual name.
IMAGE_KEYS = ("body", "data", "file", "image")

# Client text never reaches a status line or a header: every reply carries its code's standard
# reason phrase, and values quoted in JSON messages go through errors.echo (cut and escaped).
PARAMETER_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


@dataclass
class ImageRequest:
    """One image to process with its text parameters."""

    image_bytes: bytes
    params: dict[str, str]


@dataclass
class ParsedRequest:
    images: list[ImageRequest]
    kserve: bool  # KServe v1 JSON in, JSON with base64 images out


# Raw-body requests carry parameters as headers (TorchServe 0.12 drops the query string of
# /predictions): ``X-Dronesr-Style: udnie`` is ``style=udnie``, and ``Accept`` picks the format.
PARAM_HEADER_PREFIX = "x-dronesr-"
MAX_KSERVE_INSTANCES = 4
ACCEPTED_TYPES = {content_type: key for key, (_, content_type) in OUTPUT_FORMATS.items() if key != "jpg"}


# The parameters every image model accepts and each kind's own, from the parameter table
# (dronesr/parameters.py): the handlers accept these and refuse other names; `make archive` and
# `describe` tell the page about them, with the controls it draws.
COMMON_PARAMETERS = parameter_names("image")
STYLE_PARAMETERS = parameter_names("style")


def sr_parameters(fidelity: bool, restore: bool = False) -> tuple[str, ...]:
    """An SR model's own parameters: fidelity where the archive has the PSNR weights, restore
    where it has the restoration weights."""
    return parameter_names(*sr_scopes(fidelity, restore))


def controls(*scopes: str) -> list[dict]:
    """The page's controls for these scopes' parameters and the common ones."""
    return [p.describe() for p in accepted("image", *scopes)]


def sr_description(info: NetworkInfo, fidelity: bool, restore: bool = False) -> dict:
    """What an SR model says of itself: its ``describe`` reply and, from ``make archive``, the page's note."""
    return {
        "task": "super-resolution", "scale": info.scale, "architecture": info.family, "parameters": list(sr_parameters(fidelity, restore)),
        "fidelity": fidelity, "restore": restore, "controls": controls(*sr_scopes(fidelity, restore)),
    }


def style_description(style_names: list[str]) -> dict:
    """What the style model says of itself (``describe``, the page's note)."""
    return {"task": "style-transfer", "styles": list(style_names), "parameters": list(STYLE_PARAMETERS), "controls": controls("style")}


def _checked_name(name: str) -> str:
    if not PARAMETER_NAME.fullmatch(name):
        raise ClientError(f"Parameter name {echo(name)} is not valid: names are lower-case letters, digits and _ (at most 32).", "bad_request")
    return name


def _header_params(headers: dict[str, str] | None) -> dict[str, str]:
    params = {}
    for key, value in (headers or {}).items():
        if isinstance(key, str) and key.lower().startswith(PARAM_HEADER_PREFIX):
            params[_checked_name(key[len(PARAM_HEADER_PREFIX) :].lower().replace("-", "_"))] = _text(value)
    return params


def format_from_accept(accept: str | None) -> str | None:
    """The output format an ``Accept`` header asks for: the supported image type with the highest
    q; None when it leaves the choice to the server (absent, ``*/*``, ``image/*``). ClientError
    406 when it accepts none of them."""
    if not accept:
        return None
    ranked = []
    for order, part in enumerate(accept.split(",")):
        media, *options = (p.strip() for p in part.split(";"))
        q = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, order, media.lower()))
    for _, _, media in sorted(ranked):
        if media in ACCEPTED_TYPES:
            return ACCEPTED_TYPES[media]
        if media in ("*/*", "image/*"):
            return None
    raise ClientError(f"Accept {echo(accept)} allows none of the output types: {', '.join(ACCEPTED_TYPES)}.", "not_acceptable", 406)


def _kserve_instances(payload: Any, params: dict[str, str]) -> list[ImageRequest]:
    """KServe v1: ``{"instances": [{"b64": "..."} or {"data": {"b64": "..."}}, ...]}``; other keys
    of an instance are its parameters (``{"b64": ..., "format": "jpeg"}``)."""
    instances = payload.get("instances") if isinstance(payload, dict) else None
    if not isinstance(instances, list) or not instances:
        raise ClientError('JSON bodies must be KServe v1: {"instances": [{"b64": "<base64 image>"}]}.', "bad_request")
    if len(instances) > MAX_KSERVE_INSTANCES:
        raise ClientError(f"{len(instances)} instances in one request, over the limit of {MAX_KSERVE_INSTANCES}.", "too_large")
    images = []
    for number, instance in enumerate(instances):
        if isinstance(instance, dict) and isinstance(instance.get("data"), dict):
            instance = {**{k: v for k, v in instance.items() if k != "data"}, **instance["data"]}
        encoded = instance.get("b64") if isinstance(instance, dict) else None
        if not isinstance(encoded, str):
            raise ClientError(f'instances[{number}] has no "b64" string.', "bad_request")
        try:
            image_bytes = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ClientError(f"instances[{number}].b64 is not valid base64.", "bad_request") from None
        extra = {_checked_name(str(k)): _text(v) for k, v in instance.items() if k != "b64"}
        images.append(ImageRequest(image_bytes, {**params, **extra}))
    return images


def parse_request(request: dict, headers: dict[str, str] | None = None) -> ParsedRequest:
    """Split a TorchServe request into images and their text parameters. Parameters come from
    multipart form fields (in the request dict beside the file), from ``X-Dronesr-<name>``
    headers (raw bodies), or from a KServe instance; ``Accept`` gives the format when no
    parameter does. TorchServe has already decoded a JSON body into a dict."""
    params = _header_params(headers)
    accepted = format_from_accept(_header(headers, "accept"))
    if accepted and "format" not in params:
        params["format"] = accepted
    image_bytes = None
    for key, value in request.items():
        if isinstance(value, (dict, list)):
            return ParsedRequest(_kserve_instances(value, params), kserve=True)
        if key in IMAGE_KEYS and image_bytes is None:
            # TorchServe hands a multipart part labelled text/* over as a str: still the upload.
            image_bytes = bytes(value) if isinstance(value, (bytes, bytearray)) else _text(value).encode("utf-8", errors="replace")
        elif key not in IMAGE_KEYS:
            params[_checked_name(str(key))] = _text(value)
    if image_bytes is None:
        raise ClientError("No image in the request: send it as the raw body or as a multipart file field named 'data'.", "no_image")
    return ParsedRequest([ImageRequest(image_bytes, params)], kserve=False)


def _header(headers: dict[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if isinstance(key, str) and key.lower() == name:
            return _text(value)
    return None
