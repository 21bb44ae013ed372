"""One emotion vocabulary, so that the classes of every dataset line up.

Datasets spell the same expression differently (FER-2013 ``angry``, RAF-DB ``anger``, SFEW
``Angry``, Oulu-CASIA ``Anger``, CK+ code 1). ``canonical_emotion`` maps every known spelling to
one name: the seven basic expressions plus neutral and contempt, and the composite
micro-expression classes (negative, positive) and ``others`` of SAMM's sheet. A name outside the
vocabulary is returned lowercased, so that it can still match itself across datasets.
"""

from __future__ import annotations

from typing import Iterable, Sequence

EMOTIONS = ("neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt",
            "negative", "positive", "others")
_SYNONYMS = {
    "happy": "happiness", "happiness": "happiness", "joy": "happiness",
    "sad": "sadness", "sadness": "sadness",
    "surprise": "surprise", "surprised": "surprise",
    "fear": "fear", "fearful": "fear", "afraid": "fear",
    "disgust": "disgust", "disgusted": "disgust",
    "anger": "anger", "angry": "anger",
    "contempt": "contempt",
    "neutral": "neutral", "neutrality": "neutral",
    "negative": "negative", "positive": "positive",
    "other": "others", "others": "others",
}


def canonical_emotion(name: str) -> str:
    """The vocabulary's name for a class name (case and spelling folded), else the name lowercased."""
    key = name.strip().lower()
    return _SYNONYMS.get(key, key)


def canonical_classes(names: Iterable[str]) -> list[str]:
    """``canonical_emotion`` of each name; ValueError when two names fold into one."""
    names = list(names)
    out = [canonical_emotion(n) for n in names]
    if len(set(out)) != len(out):
        clashes = sorted({a for a, c in zip(names, out) if out.count(c) > 1})
        raise ValueError(f"class names {', '.join(clashes)} are one emotion in the canonical vocabulary")
    return out


def shared_classes(first: Sequence[str], second: Sequence[str]) -> list[str]:
    """Canonical classes present in both class lists, in the order of ``first``."""
    theirs = set(canonical_classes(second))
    return [c for c in canonical_classes(first) if c in theirs]
