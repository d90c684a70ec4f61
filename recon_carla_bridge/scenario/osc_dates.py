"""OpenSCENARIO FileHeader dates written as a plain date, validated as ScenarioRunner 0.9.11 validated them.

The schema types `FileHeader/@date` as xs:dateTime. ScenarioRunner's own catalogs (VehicleCatalog.xosc
and the others that CatalogExample.xosc loads) carry `date="2020-02-17"`, without a time. srunner
0.9.11 pins xmlschema 1.0.18, whose xs:dateTime accepts a date alone, so those files load on a CARLA
install made from its requirements; xmlschema 4 rejects them. This checks the header date as a date
and validates a copy of the file with midnight appended; srunner never reads the date itself.
"""
from __future__ import annotations

import copy
import datetime
from typing import Any

from recon_carla_bridge.compat_imports import install_srunner_alias

install_srunner_alias()


def with_datetime_header(tree: Any) -> Any:
    """`tree`, or a copy of it whose FileHeader date 'YYYY-MM-DD' reads 'YYYY-MM-DDT00:00:00'."""
    header = tree.find("FileHeader") if hasattr(tree, "find") else None
    date = header.get("date", "") if header is not None else ""
    if len(date) != 10:
        return tree
    try:
        datetime.date.fromisoformat(date)
    except ValueError:
        return tree  # not a date either: the schema reports it
    patched = copy.deepcopy(tree)
    patched.find("FileHeader").set("date", f"{date}T00:00:00")
    return patched


def install() -> None:
    """Wrap srunner's scenario and catalog validation (idempotent; after install_openscenario_schema)."""
    from srunner.scenarioconfigs.openscenario_configuration import OpenScenarioConfiguration

    scenario_check = OpenScenarioConfiguration._validate_openscenario_configuration
    catalog_check = OpenScenarioConfiguration._validate_openscenario_catalog_configuration
    if getattr(catalog_check, "_recon_header_dates", False):
        return

    def validate(self: Any) -> None:
        original_tree = self.xml_tree
        self.xml_tree = with_datetime_header(original_tree)
        try:
            scenario_check(self)
        finally:
            self.xml_tree = original_tree

    def validate_catalog(self: Any, catalog_xml_tree: Any) -> None:
        catalog_check(self, with_datetime_header(catalog_xml_tree))

    validate._recon_header_dates = True  # type: ignore[attr-defined]
    validate_catalog._recon_header_dates = True  # type: ignore[attr-defined]
    OpenScenarioConfiguration._validate_openscenario_configuration = validate
    OpenScenarioConfiguration._validate_openscenario_catalog_configuration = validate_catalog
