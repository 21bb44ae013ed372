"""The canonical emotion vocabulary lines up every dataset's class names."""

from __future__ import annotations

import pytest

from fer_graph.data.emotions import EMOTIONS, canonical_classes, canonical_emotion, shared_classes
from fer_graph.data.ferplus import CLASSES as FERPLUS
from fer_graph.data.layouts.affectnet import CLASSES as AFFECTNET
from fer_graph.data.layouts.ckplus import CODES as CKPLUS
from fer_graph.data.layouts.oulu_casia import EMOTION_FOLDERS as OULU
from fer_graph.data.layouts.sfew import EMOTION_FOLDERS as SFEW
from fer_graph.data.readers import FER2013_CLASSES, RAFDB_CLASSES

CKPLUS48_FOLDERS = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")


@pytest.mark.parametrize("names", [FER2013_CLASSES, RAFDB_CLASSES, FERPLUS, AFFECTNET, CKPLUS, OULU, SFEW,
                                   CKPLUS48_FOLDERS])
def test_every_dataset_maps_into_the_vocabulary(names):
    assert set(canonical_classes(names)) <= set(EMOTIONS)


def test_spellings_fold_to_one_name():
    assert {canonical_emotion(n) for n in ("angry", "Anger", " ANGRY ")} == {"anger"}
    assert {canonical_emotion(n) for n in ("happy", "Happiness")} == {"happiness"}
    assert canonical_emotion("Other") == "others" and canonical_emotion("bored") == "bored"
    # the seven FER-2013 classes are the seven basic expressions of RAF-DB
    assert sorted(canonical_classes(FER2013_CLASSES)) == sorted(canonical_classes(RAFDB_CLASSES))


def test_shared_classes_keep_the_first_order_and_clashes_are_errors():
    assert shared_classes(FER2013_CLASSES, CKPLUS48_FOLDERS) == [
        "anger", "disgust", "fear", "happiness", "sadness", "surprise"]
    with pytest.raises(ValueError, match="anger, angry are one emotion"):
        canonical_classes(["angry", "anger", "sad"])
