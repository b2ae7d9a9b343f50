"""The records as data, for analysis outside keras-profiler.

``records.csv`` is the records frame (``frame.records_frame``): one row per
record, every column but the record's full document, rows by run id.
``records.jsonl`` holds every record's full document (``RunRecord.to_dict``),
one JSON object a line, by run id, keys sorted. Both are regenerated whole
from the records, and the same records give byte-identical files: rows and
columns in a fixed order, floats written in their shortest round-trip form,
'\\n' line ends whatever the platform.
"""

from __future__ import annotations

import io
import json

import pandas as pd

from keras_profiler.report.data.frame import DOCUMENT

CSV = "records.csv"
JSONL = "records.jsonl"
FILES = (CSV, JSONL)
# Where the index lists it (pages.registered).
POSITION = 30
# What the index says of each file.
DESCRIPTIONS = {
    CSV: "every record as one row of the report's records frame (settings, figures, units "
    "in the column names), for pandas or a spreadsheet",
    JSONL: "every record's full document (config, environment, devices, epochs, summary, "
    "error), one JSON object a line, as RunRecord.to_dict() writes it",
}
_CSV_HEADER_START = "run_id,status,"


def page(frame: pd.DataFrame, cells: pd.DataFrame, epochs: pd.DataFrame) -> dict[str, str]:
    """``records.csv`` and ``records.jsonl``; {} when there are no records."""
    if not len(frame):
        return {}
    ordered = frame.sort_values("run_id", kind="stable")
    return {CSV: records_csv(ordered), JSONL: records_jsonl(ordered)}


def records_csv(frame: pd.DataFrame) -> str:
    """The frame as CSV text, without the record documents."""
    buffer = io.StringIO()
    frame.drop(columns=[DOCUMENT]).to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def records_jsonl(frame: pd.DataFrame) -> str:
    """One record document a line."""
    return "".join(text + "\n" for text in frame[DOCUMENT])


def is_ours(name: str, data: bytes) -> bool:
    """Whether a file in the reports folder is an export this tool wrote: one
    of the two names, with the content it writes there (CSV cannot carry the
    markdown mark), so that a user's own file of another shape is left alone."""
    if name == CSV:
        return data.startswith(_CSV_HEADER_START.encode())
    if name == JSONL:
        first = data.split(b"\n", 1)[0]
        if not first:
            return not data.strip()
        try:
            document = json.loads(first)
        except ValueError:
            return False
        return isinstance(document, dict) and {"run_id", "schema_version"} <= set(document)
    return False
