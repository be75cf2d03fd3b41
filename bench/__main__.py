"""`python -m bench` runs every benchmark (see bench/all.py)."""

from bench.all import main

raise SystemExit(main())
