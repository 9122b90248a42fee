"""Drug and device reference data with their sources, and their loaders."""

from intrathecal.library.load import default_library
from intrathecal.library.records import (
    BolusMode,
    Bounds,
    ChangeBounds,
    ChangeLimit,
    Device,
    DeviceKind,
    Drug,
    Library,
    MassUnit,
    Origin,
    Source,
    Sourced,
)

__all__ = [
    "BolusMode",
    "Bounds",
    "ChangeBounds",
    "ChangeLimit",
    "Device",
    "DeviceKind",
    "Drug",
    "Library",
    "MassUnit",
    "Origin",
    "Source",
    "Sourced",
    "default_library",
]
