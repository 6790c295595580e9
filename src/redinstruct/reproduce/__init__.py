"""The STARLING experiment in one command: evaluate, align, evaluate again, measure utility, report."""

from ._config import load_config, preset_names
from ._run import package_versions, reproduce

__all__ = ["load_config", "package_versions", "preset_names", "reproduce"]
