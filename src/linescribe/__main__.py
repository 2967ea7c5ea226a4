"""``python -m linescribe``: the same as the ``linescribe`` command (and what torchrun launches)."""

from linescribe.cli import main

if __name__ == "__main__":
    main()
