#!/usr/bin/env python3
"""Seoul Social Media Center pipeline: the command line. The commands live in commands/."""
import sys

if __name__ == "__main__":  # imported under the guard: a worker process re-imports this file
    from commands import main

    sys.exit(main())
