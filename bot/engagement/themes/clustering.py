"""Themes found in texts, offline: each text's language-aware tokens (bot.engagement.themes.tokens) weighted by
TF-IDF, clustered by k-means (scikit-learn) with the number of themes chosen by the silhouette on a sample, and a few
keywords for each theme (its strongest words; a concept by its English name)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.engagement.themes.tokens import tokens

# scikit-learn and scipy are imported where themes are computed, not when a process starts: they cost a serving
# process about 80 MB and a second and a half before its first request, for a button staff press now and then.

MOST_THEMES = 30
SAMPLE = 2000  # texts the number of themes is chosen on (the silhouette costs the square of it)
KEYWORDS = 5
BIG = 5000  # from this many texts, mini-batch k-means
CONCEPT_WEIGHT = 2.0
CLOSE = 0.97


@dataclass(frozen=True, slots=True)
class Found:
    """A theme: the positions of its texts among those given, and its keywords."""

    members: list[int]
    keywords: list[str]


def find_themes(texts: Sequence[tuple[str, str]], *, seed: int = 0, most: int = MOST_THEMES) -> list[Found]:
    """Themes among texts (text, language), the largest first; texts without a telling word belong to none."""
    import numpy as np  # noqa: PLC0415 (loaded when first needed: 15 MB a process)

    docs = [tokens(text, locale) for text, locale in texts]
    told = [i for i, words in enumerate(docs) if words]
    if len(told) < 4:
        return [Found(told, [])] if told else []
    chosen = [docs[i] for i in told]
    try:
        matrix, vocabulary = _vectors(chosen)
    except ValueError:  # no word appears twice: nothing in common to find
        return [Found(told, [])]
    labels = _clusters(matrix, seed, most)
    found = []
    for label in sorted(set(labels.tolist())):
        rows = np.flatnonzero(labels == label)
        weights = np.asarray(matrix[rows].mean(axis=0)).ravel()
        found.append(Found([told[r] for r in rows], _keywords(vocabulary, weights)))
    return sorted(found, key=lambda f: -len(f.members))


def _words(words: list[str]) -> list[str]:
    return [w for w in words if not w.startswith("~")]


def _concepts(words: list[str]) -> list[str]:
    return [w for w in words if w.startswith("~")] or ["~"]


def _vectors(docs: list[list[str]]) -> tuple[Any, Any]:
    """TF-IDF of each text's words (those said at least twice) beside the concepts they name, the concepts counting
    CONCEPT_WEIGHT times more (they are what texts in different languages share); rows of length 1."""
    import numpy as np  # noqa: PLC0415 (loaded when first needed: 15 MB a process)
    from scipy import sparse  # noqa: PLC0415  # see the imports above
    from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: PLC0415
    from sklearn.preprocessing import normalize  # noqa: PLC0415

    words = TfidfVectorizer(analyzer=_words, min_df=2, sublinear_tf=True)
    named = TfidfVectorizer(analyzer=_concepts, sublinear_tf=True)
    matrix = sparse.hstack([words.fit_transform(docs), CONCEPT_WEIGHT * named.fit_transform(docs)]).tocsr()
    vocabulary = np.concatenate([words.get_feature_names_out(), named.get_feature_names_out()])
    return normalize(matrix), vocabulary


def _clusters(matrix: Any, seed: int, most: int) -> Any:
    """Each row's cluster; the number of clusters is the smallest whose cosine silhouette (on a sample) comes within
    CLOSE of the best (more clusters split a theme by the language it was said in before they add a theme)."""
    import numpy as np  # noqa: PLC0415 (loaded when first needed: 15 MB a process)
    from sklearn.metrics import silhouette_score  # noqa: PLC0415  # see the imports above

    rows = matrix.shape[0]
    candidates = range(2, max(2, min(most, rows // 4)) + 1)
    rng = np.random.default_rng(seed)
    sample = rng.choice(rows, size=min(rows, SAMPLE), replace=False)
    scores: dict[int, float] = {}
    for k in candidates:
        labels = _kmeans(matrix[sample], k, seed).labels_
        if len(set(labels.tolist())) >= 2:
            scores[k] = float(silhouette_score(matrix[sample], labels, metric="cosine", random_state=seed))
    best = max(scores.values(), default=0.0)
    chosen = min((k for k, score in scores.items() if score >= CLOSE * best), default=2)
    return _kmeans(matrix, chosen, seed).labels_


def _kmeans(matrix: Any, k: int, seed: int) -> Any:
    from sklearn.cluster import KMeans, MiniBatchKMeans  # noqa: PLC0415  # see the imports above

    if matrix.shape[0] >= BIG:
        return MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=2048).fit(matrix)
    return KMeans(n_clusters=k, random_state=seed, n_init=4).fit(matrix)


def _keywords(vocabulary: Any, weights: Any) -> list[str]:
    """A theme's strongest words, a concept by its name, each once."""
    import numpy as np  # noqa: PLC0415 (loaded when first needed: 15 MB a process)

    found: list[str] = []
    for index in np.argsort(weights)[::-1]:
        if weights[index] <= 0 or len(found) >= KEYWORDS:
            break
        word = str(vocabulary[index]).lstrip("~")
        if word and word not in found:
            found.append(word)
    return found
