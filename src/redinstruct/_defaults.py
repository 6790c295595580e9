"""Defaults shared by the CLI and the library, in a module light enough for the CLI to import at start."""

# the judge of `redinstruct eval`, `reproduce` and `judge calibrate` when none is named (docs/judges.md says why)
# the question-aware cross-encoder: the best offline judge on held-out sets from other sources
# (docs/judges.md, "The default judge")
DEFAULT_JUDGE = "crossencoder"

# the judge that sorts replies to safe prompts into compliance / full / partial refusal (over-refusal)
DEFAULT_COMPLIANCE_JUDGE = "compliance"
