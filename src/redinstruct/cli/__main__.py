"""`python -m redinstruct.cli` (and `torchrun -m redinstruct.cli align ...`)."""

from . import main

main()
