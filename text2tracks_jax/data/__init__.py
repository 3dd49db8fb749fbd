"""Data layer: prepared datasets (catalog + query/track splits) and their loaders."""

from text2tracks_jax.data.dataset import (SPLITS, DatasetError, DatasetWriter, Example,
                                          PreparedDataset, normalize_query, split_for_query)
from text2tracks_jax.data.errors import ErrorPolicy, FlagError, InputError, SettingsError, UserError
