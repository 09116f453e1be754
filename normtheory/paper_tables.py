"""The results tables of the paper, transcribed as data (facts, cited by table and row).

Source: Li, Chen, Xia, Yang (``001_b5a1945cc2ea1296.txt``), Tables I-IX. Every number is copied
from the document as printed (percent for accuracies, COCO points for AP/AR); ``None`` marks an
entry the table reports as a failed training ("-"). The claims of
:mod:`normtheory.claims.paper_consistency` check the sentences of the paper that summarise these
tables against them; nothing here is computed.

Transcription notes
    * Table II: the text of the stored document lost the "-" glyphs of the failed runs, so its WN
      and WS rows print fewer numbers than columns. The numbers are right-aligned: lambda = 0 is the
      last column and no run without decay can fail by the weights shrinking; the paper says Adam
      fails "unless lambda = 0" (so Adam's single number is lambda = 0); Fig. 6 shows the SGD failure
      at lambda = 1e-3; and WS-ResNet-50 with SGD at the default lambda = 1e-4 is 76.74 in Tables I,
      IV (eps = 0) and V as well. So WN/WS with SGD fail at 1e-2 and 1e-3, and with Adam at every
      lambda > 0.
    * Table VI and VII print the gain over the baseline in parentheses; those are kept apart in
      :attr:`Table.stated` (they are the paper's own arithmetic, which a claim checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

__all__ = ["Row", "Table", "TABLES", "table", "TABLE_I", "TABLE_II", "TABLE_III", "TABLE_IV",
           "TABLE_V", "TABLE_VI", "TABLE_VII", "TABLE_VIII", "TABLE_IX"]


@dataclass(frozen=True)
class Row:
    """One row: its label as the table prints it (qualified by the block it sits in) and its
    values in column order (``None``: a failed training)."""

    label: str
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class Table:
    """One results table: what it reports, its columns and rows, and the gains it states itself.

    Attributes:
        name: the document's label ("Table II").
        reports: what the numbers are (metric, data set, split), in our words.
        columns: column headers as printed.
        rows: the rows, in the document's order.
        stated: gains the table prints in parentheses, keyed by (row label, column).
    """

    name: str
    reports: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    stated: Mapping[tuple[str, str], float] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        labels = [r.label for r in self.rows]
        if len(set(labels)) != len(labels):
            raise ValueError(f"{self.name}: duplicate row labels")
        for r in self.rows:
            if len(r.values) != len(self.columns):
                raise ValueError(f"{self.name}: row {r.label!r} has {len(r.values)} values for "
                                 f"{len(self.columns)} columns")
        for (label, column) in self.stated:
            self.value(label, column)  # a stated gain must point at an existing cell
        object.__setattr__(self, "stated", MappingProxyType(dict(self.stated)))

    def row(self, label: str) -> Row:
        for r in self.rows:
            if r.label == label:
                return r
        raise KeyError(f"{self.name} has no row {label!r}; rows: {[r.label for r in self.rows]}")

    def value(self, label: str, column: str) -> float | None:
        """The entry at (row, column); ``None`` for a failed training."""
        if column not in self.columns:
            raise KeyError(f"{self.name} has no column {column!r}; columns: {list(self.columns)}")
        return self.row(label).values[self.columns.index(column)]

    def cite(self, label: str, column: str) -> str:
        return f"{self.name}, row '{label}', column '{column}'"


def _rows(*rows: tuple[str, tuple[float | None, ...]]) -> tuple[Row, ...]:
    return tuple(Row(label, tuple(values)) for label, values in rows)


TABLE_I = Table(
    name="Table I",
    reports="ImageNet validation top-1/top-5 accuracy (%), single 224 crop: ResNet-50 with explicit "
            "warm-up against WS-ResNet-50",
    columns=("top-1", "top-5"),
    rows=_rows(
        ("ResNet-50", (76.54, 93.07)),
        ("ResNet-50 + warmup", (76.81, 93.20)),
        ("WS-ResNet-50", (76.74, 93.28)),
    ),
)

_LAMBDAS = ("1e-2", "1e-3", "1e-4", "1e-5", "0")

TABLE_II = Table(
    name="Table II",
    reports="ImageNet validation top-1 (%) against the weight decay lambda of the (WN/WS) convolutions; "
            "BN and fc layers keep lambda = 1e-4; None = failed by gradient float overflow",
    columns=_LAMBDAS,
    rows=_rows(
        ("ResNet-50 / SGD", (47.67, 74.12, 76.54, 74.80, 72.65)),
        ("ResNet-50 / Adam", (19.42, 35.68, 52.97, 63.46, 72.50)),
        ("WN-ResNet-50 / SGD", (None, None, 76.44, 74.65, 72.86)),
        ("WN-ResNet-50 / Adam", (None, None, None, None, 72.34)),
        ("WS-ResNet-50 / SGD", (None, None, 76.74, 74.70, 72.92)),
        ("WS-ResNet-50 / Adam", (None, None, None, None, 72.85)),
    ),
)

TABLE_III = Table(
    name="Table III",
    reports="ImageNet validation top-1 (%) against lambda with the eps-shifted L2 regularizer on the "
            "WN/WS convolutions (eps not stated); BN and fc layers keep lambda = 1e-4",
    columns=_LAMBDAS[:4],
    rows=_rows(
        ("WN-ResNet-50 + eps / SGD", (71.86, 75.31, 76.52, 74.63)),
        ("WN-ResNet-50 + eps / Adam", (64.31, 64.47, 65.92, 68.23)),
        ("WS-ResNet-50 + eps / SGD", (72.15, 75.68, 76.86, 74.99)),
        ("WS-ResNet-50 + eps / Adam", (64.56, 64.71, 66.17, 68.45)),
    ),
)

TABLE_IV = Table(
    name="Table IV",
    reports="ImageNet validation top-1 (%) of WS-ResNet-50 at lambda = 1e-4 against eps "
            "(eps = 0: plain L2, the baseline)",
    columns=("0", "1e-2", "1e-3", "1e-4", "1e-5"),
    rows=_rows(("WS-ResNet-50", (76.74, 76.60, 76.86, 76.84, 76.71))),
)

#: Table V's two blocks: large models at lambda = 1e-4, small models at lambda = 4e-5.
TABLE_V_LARGE = ("ResNet-50", "ResNet-101", "ResNeXt-50", "ResNeXt-101", "SE-ResNet-101", "DenseNet-201")
TABLE_V_SMALL = ("ShuffleNetV1 1x (g=8)", "ShuffleNetV2 1x", "MobileNetV1 1x", "MobileNetV2 1x")

TABLE_V = Table(
    name="Table V",
    reports="ImageNet validation top-1 (%) with SGD: baseline, WS with plain L2, WS with the eps-shift "
            "(eps searched in {1e-3, 1e-5, 1e-8}, Sec. 6.4); lambda = 1e-4 (large) / 4e-5 (small models)",
    columns=("baseline", "WS", "WS + eps"),
    rows=_rows(
        ("ResNet-50", (76.54, 76.74, 76.86)),
        ("ResNet-101", (78.17, 78.07, 78.29)),
        ("ResNeXt-50", (77.64, 77.76, 77.88)),
        ("ResNeXt-101", (78.71, 78.68, 78.80)),
        ("SE-ResNet-101", (78.43, 78.65, 78.75)),
        ("DenseNet-201", (77.54, 77.56, 77.59)),
        ("ShuffleNetV1 1x (g=8)", (67.62, 67.84, 68.09)),
        ("ShuffleNetV2 1x", (69.64, 69.66, 69.70)),
        ("MobileNetV1 1x", (73.55, 73.56, 73.60)),
        ("MobileNetV2 1x", (73.14, 73.17, 73.22)),
    ),
)

TABLE_VI = Table(
    name="Table VI",
    reports="CIFAR-100 validation top-1 (%): baseline, WS, WS + eps (eps = 1e-2, Sec. 6.5); the "
            "parenthesized numbers are the gains over the baseline the table states",
    columns=("top-1",),
    rows=_rows(
        ("baseline / ResNeXt29-16x64d", (83.68,)),
        ("WS / WS-ResNeXt29-16x64d", (83.48,)),
        ("WS + eps / WS-ResNeXt29-16x64d", (84.39,)),
        ("baseline / SE-ResNeXt29-16x64d", (84.66,)),
        ("WS / WS-SE-ResNeXt29-16x64d", (84.55,)),
        ("WS + eps / WS-SE-ResNeXt29-16x64d", (84.87,)),
    ),
    stated={("WS + eps / WS-ResNeXt29-16x64d", "top-1"): 0.71,
            ("WS + eps / WS-SE-ResNeXt29-16x64d", "top-1"): 0.21},
)

COCO_METRICS = ("AP", "AP.5", "AP.75", "APs", "APm", "APl", "ARs", "ARm", "ARl")

TABLE_VII = Table(
    name="Table VII",
    reports="COCO 2017 val detection with Cascade R-CNN + FPN: AP at IoU .5:.95/.5/.75, AP and AR for "
            "small/medium/large objects; the parenthesized AP gains over the baseline are stated",
    columns=COCO_METRICS,
    rows=_rows(
        ("baseline / ResNet-50", (41.1, 59.3, 44.8, 22.6, 44.5, 54.9, 33.2, 58.8, 70.7)),
        ("WS / WS-ResNet-50", (41.6, 60.1, 45.2, 23.4, 44.7, 55.6, 34.2, 58.2, 71.0)),
        ("WS + eps / WS-ResNet-50", (41.8, 60.2, 45.5, 23.4, 45.0, 55.4, 33.9, 58.9, 71.8)),
        ("baseline / ResNet-101", (42.6, 60.9, 46.4, 23.7, 46.1, 56.9, 34.5, 59.8, 72.0)),
        ("WS / WS-ResNet-101", (43.2, 61.6, 47.2, 24.8, 46.7, 57.8, 34.8, 59.7, 72.2)),
        ("WS + eps / WS-ResNet-101", (43.5, 61.7, 47.5, 23.9, 47.1, 58.4, 33.4, 60.2, 72.4)),
    ),
    stated={("WS + eps / WS-ResNet-50", "AP"): 0.7, ("WS + eps / WS-ResNet-101", "AP"): 0.9},
)

TABLE_VIII = Table(
    name="Table VIII",
    reports="COCO 2017 val detection with Faster R-CNN and Mask R-CNN (+ FPN): AP, AP.5, AP.75",
    columns=("AP", "AP.5", "AP.75"),
    rows=_rows(
        ("Faster R-CNN / baseline / ResNet-50", (37.7, 59.3, 41.1)),
        ("Faster R-CNN / WS + eps / WS-ResNet-50", (37.9, 59.7, 40.9)),
        ("Faster R-CNN / baseline / ResNet-101", (39.4, 60.7, 43.0)),
        ("Faster R-CNN / WS + eps / WS-ResNet-101", (39.8, 60.8, 43.5)),
        ("Mask R-CNN / baseline / ResNet-50", (38.6, 60.0, 41.9)),
        ("Mask R-CNN / WS + eps / WS-ResNet-50", (38.9, 60.1, 42.2)),
        ("Mask R-CNN / baseline / ResNet-101", (40.4, 61.6, 44.2)),
        ("Mask R-CNN / WS + eps / WS-ResNet-101", (41.1, 62.2, 45.0)),
    ),
)

TABLE_IX = Table(
    name="Table IX",
    reports="ImageNet validation top-1/top-5 (%) with (w/) and without (wo/) WS on the depthwise "
            "convolutions, all else the same",
    columns=("w/ top-1", "w/ top-5", "wo/ top-1", "wo/ top-5"),
    rows=_rows(
        ("WS-ShuffleNetV2 1x", (63.79, 84.63, 69.66, 88.76)),
        ("WS-MobileNetV2 1x", (69.74, 89.18, 73.17, 91.05)),
    ),
)

TABLES: Mapping[str, Table] = MappingProxyType({t.name: t for t in (
    TABLE_I, TABLE_II, TABLE_III, TABLE_IV, TABLE_V, TABLE_VI, TABLE_VII, TABLE_VIII, TABLE_IX)})


def table(name: str) -> Table:
    """The table with the document's label ``name`` ("Table II")."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"no {name!r}; the paper's results tables are {list(TABLES)}") from None
