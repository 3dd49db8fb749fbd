"""SeqIO task and mixture registrations: importing this package registers them.

Run directories to register come from the environment variable
`TEXT2TRACKS_RUN_DIRS` (paths separated by `os.pathsep`), or call
`tasks.register_run(RUN)` / bind `tasks.text2tracks.register_runs.run_dirs`
in gin. See `tasks/text2tracks.py` for the layout of a run directory.
Importing only reads a run's vocabularies (no SentencePiece training as a
side effect, e.g. in each Beam worker): `register_run(RUN)` builds them.
"""

import os

from tasks.text2tracks import (INPUT_FORM, id_map_dir, id_token_sequences, model_input,
                              register_run, task_inputs, task_name)

for _run_dir in filter(None, os.environ.get("TEXT2TRACKS_RUN_DIRS", "").split(os.pathsep)):
  register_run(_run_dir, build_vocabularies=False)
