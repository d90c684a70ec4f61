"""Import aliases that let unmodified CARLA tooling import what it expects.

`carla-scenario-runner` (PyPI 0.9.11) installs its packages at top level (`scenarios`,
`scenariomanager`, `scenarioconfigs`, `tools`, `autoagents`) while its own code imports them as
`srunner.<package>`. `install_srunner_alias()` adds a meta-path finder that resolves
`srunner.X.Y` to the already-importable `X.Y` — the *same* module object under both names, so
singletons such as `CarlaDataProvider` and `isinstance` checks stay consistent.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

SRUNNER_PACKAGES = ("scenarios", "scenariomanager", "scenarioconfigs", "tools", "autoagents")


class _AliasLoader(importlib.abc.Loader):
    """Loads an alias by importing its target and returning that module object."""

    def __init__(self, target: str | None):
        self._target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if self._target is None:  # the alias root package itself
            module = types.ModuleType(spec.name)
            module.__path__ = []  # a package, so submodules resolve through the finder
            return module
        return importlib.import_module(self._target)

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to execute: the target module already ran."""


class PackageAliasFinder(importlib.abc.MetaPathFinder):
    """Resolves `<alias>.<pkg>...` to `<prefix><pkg>...` for the given packages."""

    def __init__(self, alias: str, packages: tuple[str, ...], target_prefix: str = ""):
        self.alias = alias
        self.packages = packages
        self.target_prefix = target_prefix

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname == self.alias:
            return importlib.machinery.ModuleSpec(fullname, _AliasLoader(None), is_package=True)
        if not fullname.startswith(self.alias + "."):
            return None
        rest = fullname[len(self.alias) + 1:]
        if rest.split(".")[0] not in self.packages:
            return None
        real = self.target_prefix + rest
        try:
            real_spec = importlib.util.find_spec(real)
        except (ImportError, ValueError):
            return None
        if real_spec is None:
            return None
        return importlib.machinery.ModuleSpec(
            fullname, _AliasLoader(real), is_package=real_spec.submodule_search_locations is not None
        )


def install_srunner_alias() -> None:
    """Make `import srunner.<pkg>` work for the PyPI carla-scenario-runner packages (idempotent)."""
    if any(isinstance(f, PackageAliasFinder) and f.alias == "srunner" for f in sys.meta_path):
        return
    try:
        import srunner  # noqa: F401  a real srunner checkout on the path wins
        if getattr(sys.modules["srunner"], "__file__", None) or getattr(sys.modules["srunner"], "__path__", None):
            return
    except ImportError:
        pass
    sys.meta_path.insert(0, PackageAliasFinder("srunner", SRUNNER_PACKAGES))


def openscenario_1_0_schema() -> str | None:
    """Path of an OpenSCENARIO 1.0 XSD: srunner's own if its wheel has it, else scenariogeneration's copy."""
    import importlib.metadata
    from pathlib import Path

    srunner_root = importlib.util.find_spec("scenarioconfigs")
    if srunner_root is not None and srunner_root.origin:
        own = Path(srunner_root.origin).parent.parent / "openscenario" / "OpenSCENARIO.xsd"
        if own.is_file():
            return str(own)
    try:
        distribution = importlib.metadata.distribution("scenariogeneration")
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in distribution.files or []:
        if entry.name == "OpenSCENARIO_1_0.xsd":
            return str(entry.locate())
    return None


def install_openscenario_schema() -> None:
    """Point srunner's OpenSCENARIO validation at an XSD that exists.

    The PyPI wheel of carla-scenario-runner 0.9.11 omits `openscenario/OpenSCENARIO.xsd`, so every
    `.xosc` fails to load; scenariogeneration ships the same OpenSCENARIO 1.0 schema.
    """
    import xmlschema
    from srunner.scenarioconfigs.openscenario_configuration import OpenScenarioConfiguration

    if getattr(OpenScenarioConfiguration, "_recon_schema_installed", False):
        return
    schema_path = openscenario_1_0_schema()
    if schema_path is None:
        return
    schema_cache: dict[str, xmlschema.XMLSchema] = {}

    def schema() -> xmlschema.XMLSchema:
        if "xsd" not in schema_cache:
            schema_cache["xsd"] = xmlschema.XMLSchema(schema_path)
        return schema_cache["xsd"]

    def validate(self: OpenScenarioConfiguration) -> None:
        schema().validate(self.xml_tree)

    def validate_catalog(self: OpenScenarioConfiguration, catalog_xml_tree: object) -> None:
        schema().validate(catalog_xml_tree)

    OpenScenarioConfiguration._validate_openscenario_configuration = validate
    OpenScenarioConfiguration._validate_openscenario_catalog_configuration = validate_catalog
    OpenScenarioConfiguration._recon_schema_installed = True
