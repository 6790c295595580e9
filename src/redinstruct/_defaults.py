"""Defaults shared by the CLI and the library, in a module light enough for the CLI to import at start."""

# the judge of `redinstruct eval`, `reproduce` and `judge calibrate` when none is named (docs/judges.md says why)
DEFAULT_JUDGE = "classifier"
