"""`python -m stickeval` (also what `torchrun -m stickeval` runs)."""

from stickeval.cli import main

main()
