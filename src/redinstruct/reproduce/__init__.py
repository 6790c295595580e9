"""The STARLING experiment in one command: evaluate, align, evaluate again, measure utility, report."""

from ._config import load_config, preset_names
from ._run import over_refusal_bank, package_versions, reproduce

__all__ = ["load_config", "over_refusal_bank", "package_versions", "preset_names", "reproduce"]
