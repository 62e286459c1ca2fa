"""`python -m conveyor` is the `conveyor` command."""

from conveyor.entry import main

main()
