"""Values as text, and the canonical spelling used to compare unit codes across files."""

from __future__ import annotations

import numpy as np
import pandas as pd


def value_as_text(value: object) -> str:
    """One value as text: missing is ``""``, an integral float loses its ``.0``.

    Examples
    --------
    >>> value_as_text(None), value_as_text(25.0), value_as_text(" 0111 ")
    ('', '25', ' 0111 ')
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_text(values: pd.Series) -> pd.Series:
    """A column as stripped text (object dtype), missing values as ``""``; ids keep leading zeros.

    Examples
    --------
    >>> as_text(pd.Series(["0111", None, " 7 "])).tolist()
    ['0111', '', '7']
    >>> as_text(pd.Series([1.0, float("nan")])).tolist()
    ['1', '']
    """
    if pd.api.types.is_float_dtype(values.dtype):
        return pd.Series(values.to_numpy(dtype=object), dtype=object).map(value_as_text)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype(str).astype(object).reset_index(drop=True)
    text = pd.Series(values.to_numpy(dtype=object), dtype=object)
    text = text.where(text.notna(), "")
    if not all(isinstance(value, str) for value in text.head(1000)):
        text = text.map(value_as_text)
    return text.astype(str).str.strip().astype(object)


def canonical_codes(values: pd.Series | list[str] | np.ndarray) -> pd.Series:
    """The spelling in which two files' codes for the same unit compare equal.

    Numeric codes lose their leading zeros ("011" and "11" are district 11, "01" and "1" are
    Rogers Park); other codes are stripped and upper-cased. Missing codes become ``""``.

    Examples
    --------
    >>> canonical_codes(["011", "11", " 0111", "31A", None, "0"]).tolist()
    ['11', '11', '111', '31A', '', '0']
    """
    text = as_text(pd.Series(values, dtype=object))
    digits = text.str.fullmatch(r"\d+").fillna(False).astype(bool)
    stripped = text.str.lstrip("0").where(lambda t: t != "", "0")
    return stripped.where(digits, text.str.upper()).where(text != "", "")


def natural_order(ids: pd.Index | pd.Series) -> np.ndarray:
    """Positions that sort ids numerically when they are numbers, then as text.

    Examples
    --------
    >>> ids = pd.Index(["10", "2", "1", "B"])
    >>> ids[natural_order(ids)].tolist()
    ['1', '2', '10', 'B']
    """
    text = pd.Series(np.asarray(ids, dtype=object)).astype(str)
    numeric = pd.to_numeric(text.where(text.str.fullmatch(r"\d+")), errors="coerce")
    frame = pd.DataFrame({"not_number": numeric.isna(), "number": numeric, "text": text})
    return frame.sort_values(["not_number", "number", "text"], kind="stable").index.to_numpy()
