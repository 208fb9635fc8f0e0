"""``python -m sbr`` is the ``sbr`` command."""

from sbr.cli import main

if __name__ == "__main__":
    main()
