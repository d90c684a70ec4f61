"""One-file, versioned storage of a GaussianScene (`.gs`).

Layout (little-endian):
    8 bytes   magic b"RCBGSCN1"
    4 bytes   uint32 format version (FORMAT_VERSION)
    8 bytes   uint64 length L of the header
    L bytes   UTF-8 JSON header: metadata, actors (id, category, size, moving), and for every array its
              name, dtype, shape, offset and size in the payload; plus the payload's size and CRC-32
    payload   the arrays' raw bytes, back to back

Version 2 adds the optional array "ego/world_from_ego" [F, 4, 4] float64 (the refined ego trajectory,
`GaussianScene.ego_poses`); version 1 files still load.

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
from recon_carla_bridge.recon.gaussians import (
    ActorAsset,
    GaussianScene,
    GaussianSet,
    SkyModel,
)

MAGIC = b"RCBGSCN1"
FORMAT_VERSION = 2
_PREFIX = struct.Struct("<8sIQ")
_EGO_POSES = "ego/world_from_ego"
_SET_DTYPES = {
    "means": np.float32,
    "quats": np.float16,
    "log_scales": np.float16,
    "opacity_logits": np.float16,
    "sh": np.float16,
    "semantic": np.uint8,
}


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
            stream.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)))
            stream.write(header)
            stream.write(payload)
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
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{source}: corrupt GaussianScene contents ({error})") from error


def load_ego_poses(path: str | os.PathLike[str]) -> torch.Tensor | None:
    """Only the refined ego trajectory of a `.gs` file ([F, 4, 4] float64, `GaussianScene.ego_poses`), or
    None when it has none; the file is checked as `load_scene` checks it, but no Gaussians are built."""
    source, _, arrays = _read_verified(path)
    try:
        return _ego_poses(arrays, "cpu")
    except ValueError as error:
        raise InputError(f"{source}: corrupt GaussianScene contents ({error})") from error


def _read_verified(path: str | os.PathLike[str]) -> tuple[Path, dict[str, Any], dict[str, np.ndarray]]:
    """(path, header, arrays) of a `.gs` file whose magic, version, sizes and checksum are right."""
    source = Path(path)
    try:
        blob = source.read_bytes()
    except FileNotFoundError as error:
        raise InputError(f"{source}: scene file does not exist") from error
    if len(blob) < _PREFIX.size:
        raise InputError(f"{source}: truncated GaussianScene file ({len(blob)} bytes, no header)")
    magic, version, header_len = _PREFIX.unpack_from(blob)
    if magic != MAGIC:
        raise InputError(f"{source}: not a GaussianScene file (bad magic {magic!r})")
    if version > FORMAT_VERSION:
        raise InputError(f"{source}: format version {version} is newer than this reader ({FORMAT_VERSION}); upgrade recon_carla_bridge")
    if version < 1:
        raise InputError(f"{source}: invalid format version {version}")
    start = _PREFIX.size + header_len
    if len(blob) < start:
        raise InputError(f"{source}: truncated GaussianScene file (header cut short)")
    try:
        header = json.loads(blob[_PREFIX.size:start].decode("utf-8"))
        payload_size = int(header["payload_size"])
        crc = int(header["payload_crc32"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise InputError(f"{source}: corrupt GaussianScene header ({error})") from error
    payload = blob[start:]
    if len(payload) < payload_size:
        raise InputError(f"{source}: truncated GaussianScene file (payload {len(payload)} of {payload_size} bytes)")
    if len(payload) > payload_size or zlib.crc32(payload) != crc:
        raise InputError(f"{source}: corrupt GaussianScene file (payload size or checksum mismatch)")
    try:
        return source, header, _read_arrays(header["arrays"], payload)
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{source}: corrupt GaussianScene contents ({error})") from error


def _read_arrays(entries: list[dict[str, Any]], payload: bytes) -> dict[str, np.ndarray]:
    arrays = {}
    for entry in entries:
        dtype = np.dtype(entry["dtype"])
        shape = tuple(int(s) for s in entry["shape"])
        offset, nbytes = int(entry["offset"]), int(entry["nbytes"])
        if offset < 0 or offset + nbytes > len(payload) or nbytes != dtype.itemsize * int(np.prod(shape)):
            raise ValueError(f"array {entry['name']!r} does not fit the payload")
        arrays[entry["name"]] = np.frombuffer(payload, dtype=dtype, count=int(np.prod(shape)), offset=offset).reshape(shape)
    return arrays


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
        actors[str(info["track_id"])] = ActorAsset(
            track_id=str(info["track_id"]),
            category=str(info["category"]),
            size=torch.tensor([float(v) for v in info["size"]], dtype=torch.float32),
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
