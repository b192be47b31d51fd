#!/usr/bin/env python3
"""Seoul Social Media Center pipeline: the command line. The commands live in commands/."""
import sys

from commands import main

if __name__ == "__main__":
    sys.exit(main())
