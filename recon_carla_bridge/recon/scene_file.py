"""One-file, versioned storage of a GaussianScene (`.gs`).

Layout (little-endian):
    8 bytes   magic b"RCBGSCN1"
    4 bytes   uint32 format version (FORMAT_VERSION)
    8 bytes   uint64 length L of the header
    4 bytes   uint32 CRC-32 of the version, the length and the header (version 3 on)
    L bytes   UTF-8 JSON header: metadata, actors (id, category, size, moving), and for every array its
              name, dtype, shape, offset and size in the payload; plus the payload's size and CRC-32
    payload   the arrays' raw bytes, back to back

Version 2 adds the optional array "ego/world_from_ego" [F, 4, 4] float64 (the refined ego trajectory,
`GaussianScene.ego_poses`); version 3 puts the header under a checksum too (a flipped bit in an actor's size or an
array's dtype no longer loads silently). Version 1 and 2 files still load.

Every array must have the dtype the format writes (little-endian, see _DTYPES) and finite values; actor sizes must
be positive. Any decoding failure is an InputError naming the file, never another exception.

Positions are stored as float32 (metres over a ~100 m scene need more than fp16's 11 bits);
orientations, log-scales, opacity logits, SH coefficients and the sky texture as float16 (the
quantisation error is far below a pixel); semantic tags as uint8. No pickle: loading runs no code.
A wrong magic, a truncated or corrupt file (size or CRC mismatch) or a newer version raise InputError.
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.paths import chmod_like_new_file
from recon_carla_bridge.recon.gaussians import (
    ActorAsset,
    GaussianScene,
    GaussianSet,
    SkyModel,
)

MAGIC = b"RCBGSCN1"
FORMAT_VERSION = 3
_PREFIX = struct.Struct("<8sIQ")  # magic, version, header length (every version)
_HEADER_CRC = struct.Struct("<I")  # version 3 on: CRC-32 of blob[8:20] + header
_HEADER_CRC_VERSION = 3
MAX_ABS_COORDINATE_M = 1e6  # Gaussian means, box and ego poses: a scene spans at most a few kilometres
_EGO_POSES = "ego/world_from_ego"
_SET_DTYPES = {
    "means": np.float32,
    "quats": np.float16,
    "log_scales": np.float16,
    "opacity_logits": np.float16,
    "sh": np.float16,
    "semantic": np.uint8,
}


_EXPECTED_DTYPES = {name: np.dtype(dtype).newbyteorder("<").str for name, dtype in _SET_DTYPES.items()}
_EXPECTED_DTYPES.update({"frame_indices": "<i4", "world_from_box": "<f4", "texture": "<f2", "world_from_ego": "<f8"})


def _set_arrays(prefix: str, gaussians: GaussianSet) -> dict[str, np.ndarray]:
    return {
        f"{prefix}/{name}": getattr(gaussians, name).detach().cpu().numpy().astype(dtype)
        for name, dtype in _SET_DTYPES.items()
    }


def save_scene(scene: GaussianScene, path: str | os.PathLike[str]) -> int:
    """Write `scene` to `path` atomically (temp file + rename); returns the file size in bytes."""
    arrays = _set_arrays("background", scene.background)
    actors_header = []
    for i, (track_id, actor) in enumerate(scene.actors.items()):
        arrays.update(_set_arrays(f"actors/{i}", actor.gaussians))
        arrays[f"actors/{i}/frame_indices"] = actor.frame_indices.cpu().numpy().astype(np.int32)
        arrays[f"actors/{i}/world_from_box"] = actor.world_from_box.detach().cpu().numpy().astype(np.float32)
        actors_header.append(
            {
                "track_id": track_id,
                "category": actor.category,
                "size": [float(v) for v in actor.size.tolist()],
                "moving": bool(actor.moving),
            }
        )
    arrays["sky/texture"] = scene.sky.texture.detach().cpu().numpy().astype(np.float16)
    if scene.ego_poses is not None:
        arrays[_EGO_POSES] = scene.ego_poses.detach().cpu().numpy().astype(np.float64)

    entries, chunks, offset = [], [], 0
    for name, array in arrays.items():
        data = np.ascontiguousarray(array).tobytes()
        entries.append({"name": name, "dtype": array.dtype.str, "shape": list(array.shape), "offset": offset, "nbytes": len(data)})
        chunks.append(data)
        offset += len(data)
    payload = b"".join(chunks)
    header = json.dumps(
        {
            "metadata": dict(scene.metadata),
            "actors": actors_header,
            "arrays": entries,
            "payload_size": len(payload),
            "payload_crc32": zlib.crc32(payload),
        }
    ).encode("utf-8")

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=".scene-", suffix=".gs", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header))
            stream.write(prefix)
            stream.write(_HEADER_CRC.pack(zlib.crc32(header, zlib.crc32(prefix[8:]))))
            stream.write(header)
            stream.write(payload)
        chmod_like_new_file(temp_name)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target.stat().st_size


def load_scene(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> GaussianScene:
    """Read a `.gs` file written by `save_scene` (float32 tensors on `device`)."""
    source, header, arrays = _read_verified(path)
    try:
        return _build_scene(header, arrays, device)
    except InputError as error:
        raise InputError(f"{source}: corrupt GaussianScene contents ({error})") from error
    except Exception as error:  # noqa: BLE001 — whatever a damaged header provokes, the user sees the file named
        raise InputError(f"{source}: corrupt GaussianScene contents ({type(error).__name__}: {error})") from error


def load_ego_poses(path: str | os.PathLike[str]) -> torch.Tensor | None:
    """Only the refined ego trajectory of a `.gs` file ([F, 4, 4] float64, `GaussianScene.ego_poses`), or
    None when it has none; the file is checked as `load_scene` checks it, but no Gaussians are built."""
    source, _, arrays = _read_verified(path)
    try:
        return _ego_poses(arrays, "cpu")
    except (ValueError, TypeError) as error:
        raise InputError(f"{source}: corrupt GaussianScene contents ({error})") from error


def _read_verified(path: str | os.PathLike[str]) -> tuple[Path, dict[str, Any], dict[str, np.ndarray]]:
    """(path, header, arrays) of a `.gs` file whose magic, version, sizes and checksum are right."""
    source = Path(path)
    try:
        blob = source.read_bytes()
    except FileNotFoundError as error:
        raise InputError(f"{source}: scene file does not exist") from error
    except OSError as error:
        raise InputError(f"{source}: cannot read the scene file ({error.strerror or error})") from error
    if len(blob) < _PREFIX.size:
        raise InputError(f"{source}: truncated GaussianScene file ({len(blob)} bytes, no header)")
    magic, version, header_len = _PREFIX.unpack_from(blob)
    if magic != MAGIC:
        raise InputError(f"{source}: not a GaussianScene file (bad magic {magic!r})")
    if version > FORMAT_VERSION:
        raise InputError(f"{source}: format version {version} is newer than this reader ({FORMAT_VERSION}); upgrade recon_carla_bridge")
    if version < 1:
        raise InputError(f"{source}: invalid format version {version}")
    header_start = _PREFIX.size + (_HEADER_CRC.size if version >= _HEADER_CRC_VERSION else 0)
    start = header_start + header_len
    if len(blob) < start:
        raise InputError(f"{source}: truncated GaussianScene file (header cut short)")
    header_bytes = blob[header_start:start]
    if version >= _HEADER_CRC_VERSION:
        (header_crc,) = _HEADER_CRC.unpack_from(blob, _PREFIX.size)
        if zlib.crc32(header_bytes, zlib.crc32(blob[8:_PREFIX.size])) != header_crc:
            raise InputError(f"{source}: corrupt GaussianScene file (header checksum mismatch)")
    try:
        header = json.loads(header_bytes.decode("utf-8"))
        payload_size = int(header["payload_size"])
        crc = int(header["payload_crc32"])
    except Exception as error:  # noqa: BLE001 — any decoding failure of a damaged header is the file's fault
        raise InputError(f"{source}: corrupt GaussianScene header ({type(error).__name__}: {error})") from error
    payload = blob[start:]
    if len(payload) < payload_size:
        raise InputError(f"{source}: truncated GaussianScene file (payload {len(payload)} of {payload_size} bytes)")
    if len(payload) > payload_size or zlib.crc32(payload) != crc:
        raise InputError(f"{source}: corrupt GaussianScene file (payload size or checksum mismatch)")
    try:
        return source, header, _read_arrays(header["arrays"], payload)
    except Exception as error:  # noqa: BLE001 — numpy raises SyntaxError, TypeError, … on a damaged dtype or shape
        raise InputError(f"{source}: corrupt GaussianScene contents ({type(error).__name__}: {error})") from error


def _read_arrays(entries: list[dict[str, Any]], payload: bytes) -> dict[str, np.ndarray]:
    arrays = {}
    for entry in entries:
        name = str(entry["name"])
        expected = _EXPECTED_DTYPES.get(name.rsplit("/", 1)[-1])
        if expected is None or entry["dtype"] != expected:
            raise ValueError(f"array {name!r} has dtype {entry['dtype']!r}, expected {expected!r}")
        dtype = np.dtype(expected)
        shape = tuple(int(s) for s in entry["shape"])
        if any(s < 0 for s in shape):
            raise ValueError(f"array {name!r} has a negative dimension {list(shape)}")
        offset, nbytes = int(entry["offset"]), int(entry["nbytes"])
        if offset < 0 or offset + nbytes > len(payload) or nbytes != dtype.itemsize * int(np.prod(shape)):
            raise ValueError(f"array {entry['name']!r} does not fit the payload")
        array = np.frombuffer(payload, dtype=dtype, count=int(np.prod(shape)), offset=offset).reshape(shape)
        if array.dtype.kind == "f":
            _check_finite(name, array)
        arrays[name] = array
    return arrays


def _check_finite(name: str, array: np.ndarray) -> None:
    """ValueError when a float array holds NaN/inf, or coordinates (means, poses) beyond MAX_ABS_COORDINATE_M."""
    if not np.isfinite(array).all():
        raise ValueError(f"array {name!r} holds non-finite values")
    if name.endswith(("/means", "world_from_box", "world_from_ego")) and array.size:
        if float(np.abs(array).max()) > MAX_ABS_COORDINATE_M:
            raise ValueError(f"array {name!r} holds coordinates beyond {MAX_ABS_COORDINATE_M:g} m")


def _tensor(array: np.ndarray, device: str | torch.device) -> torch.Tensor:
    if array.dtype == np.uint8 or array.dtype.kind == "i":
        return torch.from_numpy(array.astype(np.int64)).to(device)
    return torch.from_numpy(array.astype(np.float32)).to(device)


def _build_set(prefix: str, arrays: dict[str, np.ndarray], device: str | torch.device) -> GaussianSet:
    return GaussianSet(**{name: _tensor(arrays[f"{prefix}/{name}"], device) for name in _SET_DTYPES})


def _build_scene(header: dict[str, Any], arrays: dict[str, np.ndarray], device: str | torch.device) -> GaussianScene:
    actors = {}
    for i, info in enumerate(header["actors"]):
        prefix = f"actors/{i}"
        size = [float(v) for v in info["size"]]
        if len(size) != 3 or not all(0.0 < v < 1000.0 for v in size):
            raise ValueError(f"actor {info.get('track_id')!r}: size {size} must be three lengths in (0, 1000) m")
        if str(info["track_id"]) in actors:
            raise ValueError(f"actor {info['track_id']!r} appears twice")
        actors[str(info["track_id"])] = ActorAsset(
            track_id=str(info["track_id"]),
            category=str(info["category"]),
            size=torch.tensor(size, dtype=torch.float32),
            moving=bool(info["moving"]),
            gaussians=_build_set(prefix, arrays, device),
            frame_indices=_tensor(arrays[f"{prefix}/frame_indices"], device),
            world_from_box=_tensor(arrays[f"{prefix}/world_from_box"], device),
        )
    return GaussianScene(
        background=_build_set("background", arrays, device),
        actors=actors,
        sky=SkyModel(_tensor(arrays["sky/texture"], device)),
        metadata={str(k): str(v) for k, v in header["metadata"].items()},
        ego_poses=_ego_poses(arrays, device),
    )


def _ego_poses(arrays: dict[str, np.ndarray], device: str | torch.device) -> torch.Tensor | None:
    if _EGO_POSES not in arrays:
        return None
    poses = arrays[_EGO_POSES]
    if poses.ndim != 3 or poses.shape[1:] != (4, 4) or not np.isfinite(poses).all():
        raise ValueError(f"array {_EGO_POSES!r}: expected finite [F, 4, 4] poses, got shape {list(poses.shape)}")
    return torch.from_numpy(poses.astype(np.float64)).to(device)
