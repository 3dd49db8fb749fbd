"""TFDS builder `text2tracks_playlists`: a prepared dataset as a TFDS dataset.

One builder config per source (`synthetic`, `mpd`, `cpcd`, `jsonl`). The
prepared dataset directory is the builder's manual dir, so building works
offline::

  import tensorflow_datasets as tfds
  from text2tracks_jax.data import tfds_builder  # registers the builder
  ds = tfds.load("text2tracks_playlists/synthetic", split="train",
                 data_dir=f"{prepared}/tfds",
                 download_and_prepare_kwargs={"download_config":
                     tfds.download.DownloadConfig(manual_dir=prepared)})

or simply `tfds_builder.load(prepared, "train")`, which defaults `data_dir` to
`<prepared>/tfds` so every prepared dataset keeps its own TFDS cache. Features:
`query_id`, `query` (text) and `track_ids` (sequence of text), the same columns
as the Parquet splits. SeqIO reads it through `seqio.TfdsDataSource`.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow_datasets as tfds

from text2tracks_jax.data.dataset import SPLITS, DatasetError, PreparedDataset

NAME = "text2tracks_playlists"
SOURCES = ("synthetic", "mpd", "cpcd", "jsonl")


class Text2tracksPlaylists(tfds.core.GeneratorBasedBuilder):
  """Prompt-like playlist titles with their tracks, from a prepared dataset."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Prepared-dataset format version 1."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      "Run `text2tracks prepare --source SOURCE --out DIR` and pass DIR as the "
      "manual dir (tfds.download.DownloadConfig(manual_dir=DIR)).")
  BUILDER_CONFIGS = [tfds.core.BuilderConfig(name=s, description=f"{s} source")
                     for s in SOURCES]

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "query_id": tfds.features.Text(),
            "query": tfds.features.Text(),
            "track_ids": tfds.features.Sequence(tfds.features.Text()),
        }),
        homepage="https://github.com/text2tracks-jax",
    )

  def _split_generators(self, dl_manager):
    prepared = PreparedDataset.load(dl_manager.manual_dir)
    if prepared.manifest["source"] != self.builder_config.name:
      raise DatasetError(
          f"{prepared.path}: prepared from source {prepared.manifest['source']!r}, "
          f"but the builder config is {self.builder_config.name!r}")
    return {split: self._generate_examples(prepared, split) for split in SPLITS}

  def _generate_examples(self, prepared: PreparedDataset, split: str):
    for ex in prepared.examples(split):
      yield ex.query_id, {"query_id": ex.query_id, "query": ex.query,
                          "track_ids": list(ex.track_ids)}


def builder(prepared_dir, data_dir=None) -> Text2tracksPlaylists:
  """The builder for a prepared dataset, built (once) into `data_dir`."""
  prepared = PreparedDataset.load(prepared_dir)
  data_dir = Path(data_dir) if data_dir else Path(prepared_dir) / "tfds"
  b = Text2tracksPlaylists(config=prepared.manifest["source"], data_dir=str(data_dir))
  b.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(prepared_dir)))
  return b


def load(prepared_dir, split: str, data_dir=None, **as_dataset_kwargs):
  """A `tf.data.Dataset` of one split of a prepared dataset."""
  return builder(prepared_dir, data_dir).as_dataset(split=split, **as_dataset_kwargs)
