"""``python -m sigv4_imagebuilder``: the command line."""

from ._cli import run

if __name__ == "__main__":
    run()
