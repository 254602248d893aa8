"""Naming probability columns with DataRobot's class labels. All label semantics live here.

The contract (the environment's README states it; DataRobot's ONNX drop-in documentation promises it):

* binary, one value per row (shape ``[N]`` or ``[N, 1]``): the value is P(**positive**). The frame
  gets two columns: ``negative_class_label`` = 1 - p and ``positive_class_label`` = p.
* binary, two values per row: the first is P(**negative**), the second P(**positive**).
* multiclass: one value per label of ``class_labels``, in that order; the output width must
  equal the number of labels.
* multilabel: as multiclass, but each column is a probability of its own (rows need not sum to 1).
* When the graph keeps class labels for the output (``graph``: ZipMap keys, the constant a label
  output reads, the classifier node's ``classlabels_*``) and they are the same set as the labels
  DataRobot sent, compared as DRUM compares labels (as numbers when both parse as numbers,
  otherwise case-insensitively), columns are assigned **by label name** and the positional rules
  above do not apply. Labels that do not match the graph's fall back to the positional rules,
  with a warning logged once.
* Graph labels that are exactly the integers ``0 .. K-1`` can be class indices rather than
  labels (``graph.GraphLabels.meaning``). They make no difference when matching them by name gives
  the same columns as position. When it does not: labels written by skl2onnx are matched by name;
  indices (onnxmltools, whose XGBoost converter writes them) are read by position, with a
  warning; from any other producer the model is refused until ``DR_ONNX_CLASS_ORDER`` says which.
* ``DR_ONNX_CLASS_ORDER=graph`` always matches by the graph's labels (refusing labels that are not
  the graph's); ``position`` always applies the positional rules; ``auto`` (default) is the above.

Columns are named with DataRobot's label strings exactly as sent: DRUM matches the columns of
``score``'s frame to its labels by name, so order no longer matters once they are named. (DRUM's
own ONNX predictor names nothing: it labels the first of two binary columns as the positive
class and reads a single value as P(negative), and it assigns multiclass columns by position.)
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .errors import ModelError
from .graph import INDICES, LABELS, GraphLabels, Labels
from .settings import CLASS_ORDER_SETTING

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassColumns:
    """How the chosen output's columns become the labelled frame."""

    names: Labels  # DataRobot's label for each frame column, in the output's column order
    from_single: bool  # binary P(positive) expanded to [1 - p, p]
    index: pd.Index = field(init=False, repr=False, compare=False)  # ``names`` built once for every frame

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", pd.Index(self.names, dtype=object))


def request_labels(target: str, kwargs: Mapping[str, Any]) -> Labels:
    """The labels DRUM sent: ``(negative, positive)`` for binary, ``class_labels`` otherwise."""
    if target == "binary":
        negative, positive = kwargs.get("negative_class_label"), kwargs.get("positive_class_label")
        if negative is None or positive is None:
            raise ModelError(
                "Binary scoring needs both class labels: set POSITIVE_CLASS_LABEL and NEGATIVE_CLASS_LABEL "
                "(or --positive-class-label / --negative-class-label)."
            )
        return (str(negative), str(positive))
    labels = kwargs.get("class_labels")
    if not labels:
        raise ModelError(
            f"{target} scoring needs class labels: set CLASS_LABELS_FILE or CLASS_LABELS "
            "(or --class-labels / --class-labels-file)."
        )
    return tuple(str(label) for label in labels)


def _comparable(label: str) -> tuple[str, float | str]:
    try:
        return ("number", float(label))
    except ValueError:
        return ("text", label.casefold())


def _by_graph_labels(sent: Labels, graph: Labels | None, width: int) -> Labels | None:
    """DataRobot's label for each graph column, when the graph's labels are DataRobot's."""
    if not graph or len(graph) != width or len(sent) != width:
        return None
    lookup = {_comparable(label): label for label in sent}
    if len(lookup) != width or {_comparable(g) for g in graph} != set(lookup):
        return None
    return tuple(lookup[_comparable(g)] for g in graph)


def class_columns(
    target: str, sent: Labels, graph: GraphLabels | None, width: int, output: str, order: str = "auto"
) -> ClassColumns:
    """Name the ``width`` columns of output ``output`` with the labels DataRobot ``sent``."""
    if target == "binary" and width == 1:
        return ClassColumns(sent, True)
    named = _by_graph_labels(sent, graph.labels if graph else None, width) if order != "position" else None
    if order == "graph":
        if named is None:
            raise ModelError(
                f"{CLASS_ORDER_SETTING}=graph, but the class labels the graph keeps for output {output!r} "
                f"({list(graph.labels) if graph else 'none'}) are not the labels sent {list(sent)}."
            )
        return ClassColumns(named, False)
    if named and graph:
        if named == sent or graph.meaning == LABELS:
            return ClassColumns(named, False)
        if graph.meaning == INDICES:
            logger.warning(
                "The graph keeps the integers %s for output %r (%s): class indices as onnxmltools writes them, not "
                "labels, so its columns are read by position as %s. If the integers are your labels, set %s=graph.",
                list(graph.labels), output, graph.source, list(sent), CLASS_ORDER_SETTING,
            )
        else:
            raise ModelError(
                f"Output {output!r} keeps the class labels {list(graph.labels)} ({graph.source}), which may be "
                f"class indices rather than labels: matched by name they give the columns {list(named)}, by "
                f"position {list(sent)}. Set {CLASS_ORDER_SETTING}=graph if the integers are the labels, or "
                f"{CLASS_ORDER_SETTING}=position if column i is the i-th label sent."
            )
    elif graph and order == "auto" and graph.meaning == LABELS:
        logger.warning(
            "The graph's class labels %s do not match the labels sent %s; output %r is read by position.",
            list(graph.labels), list(sent), output,
        )
    if width != len(sent):
        expected = "1 (P(positive)) or 2 ([negative, positive])" if target == "binary" else str(len(sent))
        raise ModelError(
            f"Output {output!r} has {width} values per row, but {target} with labels {list(sent)} needs {expected}."
        )
    return ClassColumns(sent, False)
