"""`python -m text2tracks_jax.ids --data D --strategy S --out O` (same as build-ids)."""

import sys

from text2tracks_jax.ids.build import main_build_ids

sys.exit(main_build_ids())
