"""Evaluate Parlour's lexical moderation model on every test split, beside a TF-IDF + LR baseline.

    .venv/bin/python bench/moderation_eval.py [--data ../shared/data/moderation] [--model FOLDER] [--output out.json]

The same as `parlour model eval`; the code lives in `parlour.scoring.evaluate` so the installed command has it.
"""

from __future__ import annotations

from parlour.scoring.evaluate import main

if __name__ == "__main__":
    main()
