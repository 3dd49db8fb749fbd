"""Serving: a trained model and its pinned artifacts, put to use.

Sits above training and decoding (it loads checkpoints and runs the beam
search), below experiments and the CLI:

  recommender.py   Recommender (load a workdir, recommend), `text2tracks
                   recommend`, the trie hook for upstream T5X (`task_trie`)
  inference.py     batch `infer` over a split, multi-process part files
  validation.py    the trainer's validation `eval_fn` (`make_eval_fn`)
"""
