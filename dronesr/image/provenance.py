"""What made an image: the provenance record written into every result (XMP, in this project's own
namespace) and mirrored in the ``X-Provenance`` response header.

Reviewers reject enhanced imagery whose processing cannot be stated; the record states it: the
model's name, architecture and scale, the SHA-256 of every weights file that went into the
network (the blend partners of ``fidelity``/``restore`` too), every parameter in effect, where
and in which precision it ran, the project version and the time. It survives ``strip_metadata``
(which drops the camera's data) unless the request says ``provenance=false``.

Every value is the server's own (names of its files, parsed numbers): no client text reaches the
header or the XMP unescaped.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import quoteattr

from dronesr import __version__

NAMESPACE = "https://github.com/dronesr/dronesr/ns/provenance/1.0/"
PREFIX = "dronesr"
HEADER = "X-Provenance"
_XMP_PACKET = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b"%s</rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>"
)


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Provenance:
    """One result's record. ``weights`` maps a role (``weights``, ``fidelity_weights``,
    ``restore_weights``) to the file's SHA-256; ``parameters`` holds the values in effect."""

    model: str
    architecture: str
    scale: int
    weights: dict[str, str]
    parameters: dict[str, str] = field(default_factory=dict)
    software: str = f"dronesr {__version__}"
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))

    def with_parameters(self, **values: object) -> Provenance:
        """A copy with ``values`` added (None dropped; floats as %g)."""
        extra = {k: (f"{v:g}" if isinstance(v, float) else str(v)) for k, v in values.items() if v is not None}
        return Provenance(self.model, self.architecture, self.scale, self.weights, {**self.parameters, **extra}, self.software)

    def fields(self) -> dict[str, str]:
        """Flat name -> value, in a fixed order: the XMP attributes and the header's items."""
        return {
            "model": self.model, "architecture": self.architecture, "scale": str(self.scale),
            **{f"{role}_sha256": digest for role, digest in self.weights.items()},
            **self.parameters, "software": self.software, "created": self.created,
        }

    def header(self) -> str:
        """``name=value; ...``: ASCII, the server's own values only."""
        return "; ".join(f"{name}={value}" for name, value in self.fields().items())

    def xmp_description(self) -> bytes:
        attributes = " ".join(f"{PREFIX}:{_xml_name(name)}={quoteattr(value)}" for name, value in self.fields().items())
        return f'<rdf:Description rdf:about="" xmlns:{PREFIX}="{NAMESPACE}" {attributes}/>'.encode()

    def into_xmp(self, xmp: bytes | None) -> bytes:
        """``xmp`` with this record added as one more rdf:Description (every other byte kept), or
        a packet of its own when there is none (or it has no rdf:RDF to extend)."""
        description = self.xmp_description()
        if xmp and b"</rdf:RDF>" in xmp:
            at = xmp.rindex(b"</rdf:RDF>")
            return xmp[:at] + description + xmp[at:]
        return _XMP_PACKET % description


def _xml_name(name: str) -> str:
    """snake_case -> an XML name in the record's style (``fidelity_weights_sha256`` -> ``FidelityWeightsSha256``)."""
    return "".join(part.capitalize() for part in name.split("_"))


def read_record(xmp: bytes) -> dict[str, str]:
    """The record's fields from an XMP packet (tests, and users checking a file), names as written."""
    match = re.search(rb'<rdf:Description[^>]*xmlns:' + PREFIX.encode() + rb'="' + re.escape(NAMESPACE.encode()) + rb'"([^>]*)/>', xmp)
    if not match:
        return {}
    return {name.decode(): value.decode() for name, value in re.findall(rb'\b' + PREFIX.encode() + rb':(\w+)="([^"]*)"', match.group(1))}
