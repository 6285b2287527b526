"""``python -m i2i`` runs the command-line interface (also what ``torchrun -m i2i`` starts)."""

from i2i.cli import main

if __name__ == "__main__":
    main()
