"""Typed configuration: frozen dataclasses loaded from YAML, unknown keys are errors."""
from __future__ import annotations

import dataclasses
import difflib
import os
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

import yaml

from recon_carla_bridge.errors import InputError

T = TypeVar("T")


def config_from_dict(cls: type[T], values: dict[str, Any], where: str = "config") -> T:
    """Build dataclass `cls` from a mapping; InputError naming `where` and the key for unknown/ill-typed keys."""
    if not isinstance(values, dict):
        raise InputError(f"{where}: expected a mapping, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise InputError(f"{where}: unknown key '{key}'{hint}; known keys: {', '.join(fields)}")
        kwargs[key] = _coerce(hints[key], value, f"{where}.{key}")
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if hint in (float,) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and not isinstance(value, hint):
        raise InputError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def load_config(cls: type[T], path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None) -> T:
    """Defaults of `cls`, updated from a YAML file, then from `overrides` (e.g. CLI flags that were given)."""
    values: dict[str, Any] = {}
    where = "config"
    if path is not None:
        where = str(path)
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            raise InputError(f"{path}: cannot read ({error})") from None
        except yaml.YAMLError as error:
            raise InputError(f"{path}: malformed YAML ({error})") from None
        values.update(loaded or {})
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return config_from_dict(cls, values, where)
