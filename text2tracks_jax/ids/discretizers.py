"""Discretizers: embedding rows -> short sequences of new whole tokens.

Each returns `Codes`: `tokens[n]` lists lexicon indices of track n's ID, and
`lexicon[i]` is the token string, so the ID is "".join(lexicon[tokens[n]]).

sparse-coding (the paper's): dictionary learning (Mairal et al. 2009, as in
  scikit-learn's MiniBatchDictionaryLearning) learns `dictionary_size` = s unit
  atoms; each track is coded with `num_nonzero` = c atoms by orthogonal
  matching pursuit (OMP); its ID lists the atoms by |coefficient|, largest
  first, each as a signed token: "<+12><-3><+7>" means
  t ~ a12 v12 - a3 v3 + a7 v7 with |a12| >= |a3| >= |a7|. Lexicon: 2s tokens,
  "<+0>".."<+{s-1}>" then "<-0>".."<-{s-1}>". OMP can return fewer than c
  non-zeros (an exact fit, a zero row); the free positions are filled with the
  not yet chosen atoms of largest |<t, v>|, signed like that correlation ("+"
  for 0), so every ID has exactly c tokens.
kmeans: hierarchical k-means (DSI-style): cluster all rows into `branching`
  clusters, then each cluster again, `levels` times; level l writes token
  "<{letter l}{cluster}>" ("<a3><b17><c0>"). Groups no larger than the
  branching factor give each row its own cluster.
residual-kmeans: residual quantisation (RQ, TIGER-style): level l clusters
  the residuals left by levels < l into `codebook_size` centroids.

Rows are L2-normalised first (cosine geometry); sparse coding also centres
them and normalises again, so the first atom encodes how a track differs from
the average track, not the direction all tracks share. The dictionary is
initialised with random (centred) rows and fitted on `fit_samples` of them;
coding all N rows is a vectorized OMP (`batched_omp`) that makes the same
choices as scikit-learn's per-row OMP.
"""

from __future__ import annotations

import dataclasses
import logging
import string
import time
import warnings

import gin
import numpy as np

from text2tracks_jax.ids.embeddings import l2_normalize

logger = logging.getLogger(__name__)
PROGRESS_EVERY_S = 10.0  # a progress line at most this often during a long fit


@dataclasses.dataclass
class Codes:
  """tokens [N, L] int32 indices into lexicon [V] str."""

  tokens: np.ndarray
  lexicon: list
  config: dict
  arrays: dict = dataclasses.field(default_factory=dict)
  info: dict = dataclasses.field(default_factory=dict)

  def id_strings(self) -> np.ndarray:
    """[N] ID strings: the concatenated tokens."""
    lex = np.asarray(self.lexicon, dtype=object)
    out = lex[self.tokens[:, 0]].copy()
    for j in range(1, self.tokens.shape[1]):
      out = out + lex[self.tokens[:, j]]
    return out


# -- sparse coding ------------------------------------------------------------------
def signed_lexicon(dictionary_size: int) -> list:
  return ([f"<+{i}>" for i in range(dictionary_size)]
          + [f"<-{i}>" for i in range(dictionary_size)])


def batched_omp(x: np.ndarray, dictionary: np.ndarray, n_nonzero: int,
                chunk_size: int = 8192):
  """Orthogonal matching pursuit for many rows at once (Gram form).

  Same greedy choices as sklearn's `orthogonal_mp_gram` (what
  `sparse_encode(algorithm="omp")` runs), vectorized over rows instead of a
  Python-level loop per row.

  Args:
    x: [N, d] rows to code.
    dictionary: [s, d] atoms (unit norm).
    n_nonzero: c, atoms per row.

  Returns:
    atoms [N, c] int64 in selection order and coefs [N, c] float64; a row that
    stopped early (residual orthogonal to every atom) has coefficient 0 in its
    remaining positions and atom -1.
  """
  gram = dictionary.astype(np.float64) @ dictionary.T.astype(np.float64)  # [s, s]
  n = len(x)
  atoms = np.full((n, n_nonzero), -1, np.int64)
  coefs = np.zeros((n, n_nonzero))
  min_float = np.finfo(np.float64).eps  # sklearn's threshold for float64
  for lo in range(0, n, chunk_size):
    cov = x[lo:lo + chunk_size].astype(np.float64) @ dictionary.T.astype(np.float64)  # [B, s]
    b = len(cov)
    alpha = cov.copy()
    active = np.ones(b, bool)
    sel = np.zeros((b, 0), np.int64)
    gamma = np.zeros((b, 0))
    rows = np.arange(b)
    for k in range(n_nonzero):
      lam = np.argmax(np.abs(alpha), axis=1)
      # sklearn stops when the best atom is already active or explains nothing.
      repeat = (sel == lam[:, None]).any(axis=1) if k else np.zeros(b, bool)
      active &= ~repeat & (alpha[rows, lam] ** 2 >= min_float)
      sel = np.concatenate([sel, np.where(active, lam, -1)[:, None]], axis=1)
      safe = np.where(sel >= 0, sel, 0)
      g = gram[safe[:, :, None], safe[:, None, :]]  # [B, k+1, k+1]
      rhs = cov[rows[:, None], safe]  # [B, k+1]
      dead = sel < 0
      g = np.where(dead[:, :, None] | dead[:, None, :], 0.0, g)
      g[:, np.arange(k + 1), np.arange(k + 1)] = np.where(dead, 1.0, np.diagonal(g, 0, 1, 2))
      rhs = np.where(dead, 0.0, rhs)
      gamma = np.linalg.solve(g, rhs[..., None])[..., 0]  # [B, k+1]
      alpha = cov - np.einsum("bk,bks->bs", gamma, gram[safe])
    atoms[lo:lo + b] = sel
    coefs[lo:lo + b] = gamma
  return atoms, coefs


def order_by_magnitude(atoms: np.ndarray, coefs: np.ndarray, cov: np.ndarray | None = None):
  """Sorts each row's atoms by |coef| descending (ties: atom index) and fills
  positions without a non-zero coefficient from the correlations `cov` [N, s].

  Returns (atoms [N, c], signs [N, c] in {+1, -1}, filled [N] bool).
  """
  mag = np.where(atoms >= 0, np.abs(coefs), -1.0)
  mag = np.where((atoms >= 0) & (coefs == 0), -0.5, mag)
  order = _row_lexsort(atoms, mag)
  atoms = np.take_along_axis(atoms, order, 1)
  coefs = np.take_along_axis(coefs, order, 1)
  missing = (atoms < 0) | (coefs == 0)
  signs = np.where(coefs < 0, -1, 1)
  filled = missing.any(axis=1)
  if filled.any():
    if cov is None:
      raise ValueError("rows with fewer than c non-zeros need `cov` to be filled")
    for r in np.flatnonzero(filled):  # rare: exact fits and zero rows only
      keep = ~missing[r]
      used = set(atoms[r, keep].tolist())
      ranked = np.lexsort((np.arange(cov.shape[1]), -np.abs(cov[r])))
      extra = [a for a in ranked.tolist() if a not in used][:int(missing[r].sum())]
      atoms[r] = np.r_[atoms[r, keep], extra]
      signs[r] = np.r_[signs[r, keep], np.where(cov[r, extra] < 0, -1, 1)]
  return atoms, signs, filled


def _row_lexsort(atoms: np.ndarray, mag: np.ndarray) -> np.ndarray:
  """[N, c] per-row order: magnitude descending, then atom index ascending."""
  big = np.iinfo(np.int64).max
  keyed_atoms = np.where(atoms >= 0, atoms, big)
  order = np.argsort(keyed_atoms, axis=1, kind="stable")
  mag_sorted = np.take_along_axis(mag, order, 1)
  order2 = np.argsort(-mag_sorted, axis=1, kind="stable")
  return np.take_along_axis(order, order2, 1)


def init_dictionary(x: np.ndarray, dictionary_size: int, rng: np.random.Generator) -> np.ndarray:
  """[s, d] initial atoms: distinct random rows (with small noise when there
  are fewer rows than atoms), unit norm."""
  replace = len(x) < dictionary_size
  init = x[rng.choice(len(x), dictionary_size, replace=replace)].astype(np.float64)
  if replace:
    init = init + 0.05 * rng.standard_normal(init.shape)
  return l2_normalize(init).astype(np.float64)


def _fit_rows(n: int, trusted: np.ndarray | None, fit_samples: int,
              rng: np.random.Generator) -> np.ndarray:
  rows = np.flatnonzero(trusted) if trusted is not None and trusted.any() else np.arange(n)
  if len(rows) > fit_samples:
    rows = np.sort(rng.choice(rows, fit_samples, replace=False))
  return rows


@gin.configurable
def sparse_coding(x: np.ndarray, *, seed: int = 0, trusted: np.ndarray | None = None,
                  dictionary_size: int = 512, num_nonzero: int = 3, alpha: float = 0.2,
                  fit_samples: int = 16384, batch_size: int = 512, max_iter: int = 1,
                  fit_algorithm: str = "lars", center: bool = True,
                  encoder: str = "batched") -> Codes:
  """The paper's discretizer: ID = c signed atoms by |coefficient|.

  Args:
    x: [N, d] embeddings.
    trusted: [N] bool, rows learned from data (fallback rows are not used to
      fit the dictionary); None = all.
    dictionary_size: s (lexicon of 2s tokens).
    num_nonzero: c, tokens per ID.
    alpha, batch_size, max_iter, fit_algorithm: MiniBatchDictionaryLearning's
      (alpha: L1 penalty of the codes while fitting).
    fit_samples: rows (random, seeded) the dictionary is fitted on.
    center: subtract the mean of the fitted rows after L2-normalising, then
      L2-normalise again (word2vec vectors share one dominant direction: the
      centred rows keep ~20% of their norm, which would leave the L1 penalty
      and OMP dominated by that shared direction).
    encoder: "batched" (vectorized OMP, same choices as sklearn's) or "sklearn"
      (`MiniBatchDictionaryLearning.transform`, a Python loop per row).
  """
  # lazy: scikit-learn takes ~1.2 s to import, paid by every `import text2tracks_jax.ids`
  from sklearn.decomposition import MiniBatchDictionaryLearning  # pylint: disable=import-outside-toplevel
  if encoder not in ("batched", "sklearn"):
    raise ValueError(f"sparse_coding: encoder must be 'batched' or 'sklearn', got {encoder!r}")
  if num_nonzero > dictionary_size:
    raise ValueError(f"num_nonzero={num_nonzero} > dictionary_size={dictionary_size}")
  config = dict(dictionary_size=dictionary_size, num_nonzero=num_nonzero, alpha=alpha,
                fit_samples=fit_samples, batch_size=batch_size, max_iter=max_iter,
                fit_algorithm=fit_algorithm, center=center, encoder=encoder)
  rng = np.random.default_rng(seed)
  xc = l2_normalize(x)
  rows = _fit_rows(len(xc), trusted, fit_samples, rng)
  mean = xc[rows].mean(axis=0) if center else np.zeros(xc.shape[1], np.float32)
  if center:
    xc -= mean
    l2_normalize(xc, copy=False)
  fit_x = xc[rows][rng.permutation(len(rows))]
  learner = MiniBatchDictionaryLearning(
      n_components=dictionary_size, alpha=alpha, max_iter=max_iter, batch_size=batch_size,
      fit_algorithm=fit_algorithm, dict_init=init_dictionary(fit_x, dictionary_size, rng),
      transform_algorithm="omp", transform_n_nonzero_coefs=num_nonzero,
      random_state=seed, shuffle=False)
  logger.info("sparse coding: fitting %d atoms on %d rows (%d mini-batches of %d)...",
              dictionary_size, len(fit_x), max_iter * -(-len(fit_x) // batch_size), batch_size)
  start = time.perf_counter()
  learner.set_params(callback=_FitProgress("sparse coding"))
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # lars/cd convergence chatter
    learner.fit(fit_x)
  dictionary = learner.components_.astype(np.float32)  # [s, d], unit rows
  logger.info("sparse coding: dictionary fitted in %.1fs; coding %d rows with %d atoms each",
              time.perf_counter() - start, len(xc), num_nonzero)
  atoms, signs, filled = encode_sparse(xc, dictionary, num_nonzero, encoder, learner)
  tokens = np.where(signs > 0, atoms, atoms + dictionary_size).astype(np.int32)
  return Codes(tokens, signed_lexicon(dictionary_size), config,
               arrays={"dictionary": dictionary, "center": mean},
               info={"rows_filled": int(filled.sum()), "fit_rows": len(rows),
                     "fit_steps": int(getattr(learner, "n_steps_", 0))})


class _FitProgress:
  """MiniBatchDictionaryLearning's callback: a line (step, rate, ETA) every
  PROGRESS_EVERY_S seconds; it only reads the fit's state."""

  def __init__(self, what: str):
    self.what = what
    self.start = self.last = time.perf_counter()

  def __call__(self, env: dict):
    now = time.perf_counter()
    if now - self.last < PROGRESS_EVERY_S:
      return
    self.last = now
    done, total = env["i"] + 1, env["n_steps"]
    rate = done / max(now - self.start, 1e-9)
    logger.info("%s: mini-batch %d/%d, %.1f/s, ETA %.0fs", self.what, done, total, rate,
                (total - done) / rate)


def encode_sparse(xc: np.ndarray, dictionary: np.ndarray, num_nonzero: int,
                  encoder: str = "batched", learner=None, chunk_size: int = 8192):
  """Codes rows [N, d] with c atoms; returns (atoms [N, c], signs [N, c],
  filled [N]) ordered by |coefficient|."""
  all_atoms, all_signs, all_filled = [], [], []
  for lo in range(0, len(xc), chunk_size):
    chunk = xc[lo:lo + chunk_size]
    cov = chunk.astype(np.float64) @ dictionary.T.astype(np.float64)
    if encoder == "batched":
      atoms, coefs = batched_omp(chunk, dictionary, num_nonzero, chunk_size)
    else:
      dense = learner.transform(chunk)  # [B, s]
      atoms = np.argsort(-np.abs(dense), axis=1, kind="stable")[:, :num_nonzero]
      coefs = np.take_along_axis(dense, atoms, 1)
      atoms = np.where(coefs != 0, atoms, -1)
    atoms, signs, filled = order_by_magnitude(atoms, coefs, cov)
    all_atoms.append(atoms)
    all_signs.append(signs)
    all_filled.append(filled)
  return np.concatenate(all_atoms), np.concatenate(all_signs), np.concatenate(all_filled)


# -- k-means ------------------------------------------------------------------------------
def level_lexicon(levels: int, size: int) -> list:
  if levels > len(string.ascii_lowercase):
    raise ValueError(f"at most 26 levels, got {levels}")
  return [f"<{string.ascii_lowercase[l]}{j}>" for l in range(levels) for j in range(size)]


def _kmeans(x: np.ndarray, k: int, seed: int, minibatch_above: int, n_init: int = 1):
  """Labels [n] and centroids [k, d]; MiniBatchKMeans above `minibatch_above` rows."""
  # lazy: scikit-learn takes ~1.2 s to import, paid by every `import text2tracks_jax.ids`
  from sklearn.cluster import KMeans, MiniBatchKMeans  # pylint: disable=import-outside-toplevel
  if len(x) > minibatch_above:
    km = MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=4096, n_init=n_init,
                         max_no_improvement=20)
  else:
    km = KMeans(n_clusters=k, random_state=seed, n_init=n_init)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # duplicate points -> fewer distinct clusters
    labels = km.fit_predict(x)
  return labels.astype(np.int64), km.cluster_centers_.astype(np.float32)


@gin.configurable
def hierarchical_kmeans(x: np.ndarray, *, seed: int = 0, trusted: np.ndarray | None = None,
                        branching: int = 32, levels: int = 3,
                        minibatch_above: int = 20_000) -> Codes:
  """DSI-style recursive k-means: tokens [N, levels], one letter per level."""
  del trusted  # every row is clustered
  config = dict(branching=branching, levels=levels, minibatch_above=minibatch_above)
  xn = l2_normalize(x)
  n = len(xn)
  tokens = np.zeros((n, levels), np.int64)
  groups = [np.arange(n)]
  fits = 0
  for level in range(levels):
    next_groups = []
    for members in groups:  # one k-means per group of the previous level
      if len(members) <= branching:
        labels = np.arange(len(members))
      else:
        labels, _ = _kmeans(xn[members], branching, seed + level, minibatch_above)
        fits += 1
      tokens[members, level] = labels
      if level + 1 < levels:
        order = np.argsort(labels, kind="stable")
        bounds = np.flatnonzero(np.diff(labels[order])) + 1
        next_groups.extend(g for g in np.split(members[order], bounds) if len(g) > 1)
    groups = next_groups
  tokens += np.arange(levels) * branching
  return Codes(tokens.astype(np.int32), level_lexicon(levels, branching), config,
               info={"kmeans_fits": fits})


@gin.configurable
def residual_kmeans(x: np.ndarray, *, seed: int = 0, trusted: np.ndarray | None = None,
                    codebook_size: int = 256, levels: int = 3, fit_samples: int = 200_000,
                    minibatch_above: int = 20_000) -> Codes:
  """RQ-style residual k-means: level l quantises what levels < l left over."""
  config = dict(codebook_size=codebook_size, levels=levels, fit_samples=fit_samples,
                minibatch_above=minibatch_above)
  rng = np.random.default_rng(seed)
  residual = l2_normalize(x)
  rows = _fit_rows(len(residual), trusted, fit_samples, rng)
  k = min(codebook_size, len(rows))
  tokens = np.zeros((len(residual), levels), np.int64)
  codebooks = np.zeros((levels, codebook_size, residual.shape[1]), np.float32)
  # lazy: scikit-learn takes ~1.2 s to import, paid by every `import text2tracks_jax.ids`
  from sklearn.metrics import pairwise_distances_argmin  # pylint: disable=import-outside-toplevel
  for level in range(levels):
    _, centroids = _kmeans(residual[rows], k, seed + level, minibatch_above)
    labels = pairwise_distances_argmin(residual, centroids)
    codebooks[level, :k] = centroids
    tokens[:, level] = labels
    residual = residual - centroids[labels]
  tokens += np.arange(levels) * codebook_size
  return Codes(tokens.astype(np.int32), level_lexicon(levels, codebook_size), config,
               arrays={"codebooks": codebooks})


DISCRETIZERS = {
    "sparse-coding": sparse_coding,
    "kmeans": hierarchical_kmeans,
    "residual-kmeans": residual_kmeans,
}
