"""File input and output of the command line: CSV panels and weights in, checked output paths.

Split from :mod:`bdfm.cli` (which parses arguments and runs the commands); every
message names the file or option that was wrong and what to do.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["output_path", "read_csv_panel", "read_weights", "writable_folder"]


def read_csv_panel(path: str) -> pd.DataFrame:
    """A dates x series CSV: the first column holds the dates; clear errors otherwise."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such file: {p}")
    try:
        frame = pd.read_csv(p, index_col=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{p} could not be read as CSV: {err}") from None
    if frame.shape[1] == 0:
        raise ValueError(
            f"{p} has no data columns; expected dates in the first column, then series"
        )
    first = repr(frame.index.name) if frame.index.name is not None else "the first column"
    if pd.api.types.is_numeric_dtype(frame.index.dtype):  # pandas reads 1, 2, ... as 1970
        raise ValueError(
            f"{p}: {first} holds numbers (e.g. {frame.index[0]}), not dates; the first column "
            "of the CSV must be the dates (e.g. 2024-01-31), one row per date"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas' "could not infer format"
            index = pd.to_datetime(frame.index, errors="raise")
    except (ValueError, TypeError):
        raise ValueError(
            f"{p}: {first} does not hold dates (e.g. {frame.index[0]!r}); the first column of "
            "the CSV must be the dates, one row per date"
        ) from None
    _refuse_text_columns(frame, p)
    frame.index = pd.DatetimeIndex(index, name="date")
    return frame


def _refuse_text_columns(frame: pd.DataFrame, path: Path) -> None:
    """A clear error naming the columns that hold text (prices and series are numbers)."""
    import pandas as pd

    bad, example = [], None
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column.dtype):
            continue
        values = column.dropna()
        text = values[pd.to_numeric(values, errors="coerce").isna()]
        if len(text) or not len(values):
            bad.append(str(name))
            if example is None and len(text):
                example = f" (e.g. {text.iloc[0]!r} in {str(name)!r})"
    if bad:
        raise ValueError(
            f"{path}: column(s) {', '.join(map(repr, bad))} hold text, not numbers{example or ''}; "
            "every column after the dates must hold numbers, with empty cells for missing values"
        )


def read_weights(path: str, series: list[str]):
    """``equal``, ``none`` or a CSV of weights: one row per series (one column per portfolio)
    or one row per portfolio (one column per series)."""
    import pandas as pd

    if path in ("equal", "none"):
        return None if path == "none" else "equal"
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such weights file: {p}")
    w = pd.read_csv(p, index_col=0)
    if set(map(str, w.index)) >= set(series) and not set(map(str, w.columns)) >= set(series):
        w = w.T  # one row per series -> one row per portfolio
    return w


def writable_folder(folder: Path, option: str, create: bool = False) -> None:
    """Refuse, before any work, a folder that an output cannot be written to.

    Parameters
    ----------
    folder : where the output goes.
    option : the option that named it (``--out``, ``--csv``), for the message.
    create : the folder may be missing (it is created later): its nearest existing
        parent must then be writable.

    Raises
    ------
    NotADirectoryError
        ``folder`` or one of its parents is a file.
    FileNotFoundError
        ``folder`` is missing and ``create`` is false.
    PermissionError
        No new file can be made there (read-only folder or file system).
    """
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(
            f"{option} {folder}: {existing} is a file, not a folder; choose another {option}"
        )
    if existing != folder and not create:
        raise FileNotFoundError(
            f"{option}: the folder {folder} does not exist; create it (mkdir -p {folder}) "
            f"or choose another {option}"
        )
    try:  # a real file: permission bits alone miss read-only file systems, ACLs and root
        handle, probe = tempfile.mkstemp(prefix=".bdfm-write-test-", dir=existing)
    except OSError as err:
        raise PermissionError(
            f"{option}: cannot write in {existing} ({err.strerror or err}); choose another "
            f"{option} or make the folder writable"
        ) from None
    os.close(handle)
    os.unlink(probe)


def output_path(
    path: str | Path, overwrite: bool, option: str = "--out", example: str = ""
) -> Path:
    """``path`` as a Path, once sure the output can be written there (before any work)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"{option} {path} is a folder; give a file name, e.g. {path / example}"
        )
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite or choose another {option}")
    writable_folder(path.parent, option)
    return path
