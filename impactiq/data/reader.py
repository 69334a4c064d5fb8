"""Reading an experiment table from an upload or a file on disk.

Uploads arrive as bytes with a file name; the command line passes a path. Both go through
`read_table`, so a file that opens in the app opens on the command line too. CSV (plain or
gzip) and Parquet are read with pyarrow's multi-threaded readers: a 14M-row Criteo file
takes seconds rather than the minutes of a pure-Python parser. The format is taken from the
file's first bytes (gzip, Parquet, zip and old Excel files have signatures), because users
rename files; the name is checked against them so that a workbook or a JSON export saved
under a misleading name gets a message saying what it is.

Anything a user can fix (an empty file, a spreadsheet instead of a table, a ragged line, two
columns with one name, a file over the size limit, a damaged or truncated gzip or Parquet file,
text in an encoding that cannot be read) raises ImpactIQError naming the line or column and the
fix. Text that is not UTF-8 is read as Windows-1252 (Excel's "CSV" export on Western Windows)
with a warning in the frame's `attrs` (see `read_warnings`), which `prepare_experiment` passes
on to the experiment.

Memory: an upload is already held in memory as bytes, so the reader adds as little as it can to
that. CSV is parsed one block at a time (pyarrow's streaming reader holds the table plus a block;
the one-shot reader keeps every parsed block until all are converted, about three times the
table), and once the table is in pandas, Arrow's allocator hands the memory it freed back to the
system. `bench/bench_upload.py` measures the whole upload path.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import os
import re
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from impactiq.errors import ImpactIQError

# Matches `[server] maxUploadSize = 1024` (MB) in .streamlit/config.toml.
MAX_UPLOAD_BYTES = 1024 * 1024**2
# Separators we recognise, in order of preference when a header is ambiguous.
DELIMITERS = (",", ";", "\t", "|")
# How much of the start of a file is inspected to recognise its format and separator.
SNIFF_BYTES = 64 * 1024

_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# The formats are recognised from the content, not the name, so the pages accept any file and
# every refusal names what works (a browser's type filter only marks a wrong file, wordlessly).
READABLE_TYPES = "CSV (comma, semicolon, tab or pipe separated; plain or gzip-compressed) and Parquet"
_SAVE_AS = f"ImpactIQ reads {READABLE_TYPES}. Save it as CSV (UTF-8) or Parquet and upload that."
# The key of `DataFrame.attrs` under which `read_table` leaves its warnings.
READ_WARNINGS = "impactiq_read_warnings"
# Text that is not UTF-8 is read in the first of these that decodes it. Windows-1252 is what
# Excel's "CSV" export writes on Western Windows (it adds the euro sign and curly quotes to
# Latin-1); Latin-1 maps every byte to a character, so it reads the five bytes 1252 leaves out.
_FALLBACK_ENCODINGS = (
    ("cp1252", 'Windows-1252 (Western European), the encoding of a spreadsheet\'s "CSV" export on Windows'),
    ("latin-1", "Latin-1 (ISO-8859-1)"),
)
# Names that promise a format we do not read, whatever the first bytes say.
_NOT_TABLE_SUFFIXES = {
    ".xlsx": "an Excel workbook",
    ".xlsm": "an Excel workbook",
    ".xls": "an Excel workbook (.xls)",
    ".ods": "a spreadsheet",
    ".json": "JSON",
    ".jsonl": "JSON",
}
_PARQUET_SUFFIXES = (".parquet", ".pq")
# What `table_stem` takes off an upload's name: a compression suffix, then a table format's.
_COMPRESSION_SUFFIXES = (".gz", ".gzip")
_TABLE_SUFFIXES = (".csv", ".tsv", ".txt", *_PARQUET_SUFFIXES)
_PANDAS_INDEX = re.compile(r"__index_level_\d+__")
# A decimal comma ("1,5"), as written by spreadsheets in many European locales.
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+$")
_DECIMAL_POINT = re.compile(r"^[-+]?\d*\.\d+$")


def read_table(
    source: bytes | str | os.PathLike,
    *,
    filename: str | None = None,
    max_bytes: int | None = MAX_UPLOAD_BYTES,
) -> pd.DataFrame:
    """The table in `source` as a DataFrame with compact, lossless dtypes.

    `source` is the raw bytes of an upload (then `filename` is the name the user gave it) or
    a path on the server. CSV separators (comma, semicolon, tab, pipe) and a decimal comma
    are recognised from the first lines. `max_bytes=None` lifts the size limit (the command
    line has none).

    Dtypes: integer columns shrink to the narrowest integer type holding their range (a 0/1
    column becomes int8, an eighth of int64); text becomes a pandas categorical (one code per
    row instead of one string object). Non-integer numbers stay float64: the reader does not
    know which column is a feature and which is an amount such as spend, and a float32 copy
    of a money column or a large identifier would silently round it. `prepare_experiment`,
    which knows the roles, turns features into float32. An index that pandas stored in a
    Parquet file is dropped.

    Warnings about how the file was read (text that is not UTF-8) are in
    `read_warnings(frame)`.
    """
    data, path, name = _open(source, filename)
    size = len(data) if path is None else path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise ImpactIQError(
            f"'{name}' is {_megabytes(size)}; the limit is {_megabytes(max_bytes)}. Upload a random "
            "sample of its rows, or save it as Parquet (usually a fraction of the CSV size), or "
            "use the command line (`python -m impactiq`), which reads files of any size."
        )
    if size == 0:
        raise ImpactIQError(f"'{name}' is empty (0 bytes). Upload the file that holds the table.")
    head = data[:SNIFF_BYTES] if path is None else _read_head(path)
    warnings: list[str] = []
    if _is_parquet(head, name):
        table = _read_parquet(data, path, name)
    else:
        table = _read_text(data, path, name, head, warnings)
    # Rebinding `table` drops the tables before these steps, so that only the converted one holds
    # Arrow memory while pandas takes its copy.
    table = _compact(_tidy(table, name))
    frame = _to_pandas(table, name)
    # Arrow's allocator keeps freed blocks (the parse's, each column's before conversion) for
    # reuse; hand them back so that what runs next (numpy, pandas) can have that memory.
    pa.default_memory_pool().release_unused()
    frame.attrs[READ_WARNINGS] = warnings
    return frame


def read_warnings(frame: pd.DataFrame) -> list[str]:
    """What `read_table` warned about while reading `frame` (empty for any other frame)."""
    return list(frame.attrs.get(READ_WARNINGS, ()))


def table_stem(filename: str) -> str:
    """An uploaded table's name without its format's suffixes, for the file made from it.

    "spring.2024.csv.gz" becomes "spring.2024": cutting at the first dot would keep only
    "spring" and lose what told two campaigns' files apart.
    """
    stem = filename
    for suffixes in (_COMPRESSION_SUFFIXES, _TABLE_SUFFIXES):
        if stem.lower().endswith(suffixes):
            stem = stem.rsplit(".", 1)[0]
    return stem


def _open(source, filename: str | None) -> tuple[bytes | None, Path | None, str]:
    """(bytes, None, name) for an upload or (None, path, name) for a file on the server."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), None, filename or "the upload"
    if not isinstance(source, str | os.PathLike):
        raise TypeError(f"read_table takes the bytes of a file or a path, not {type(source).__name__}.")
    path = Path(source)
    if path.is_dir():
        raise ImpactIQError(f"'{path}' is a folder; give the path of one CSV or Parquet file.")
    if not path.is_file():
        raise ImpactIQError(f"There is no file '{path}'. Check the path and spelling.")
    return None, path, filename or path.name


def _read_head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(SNIFF_BYTES)
    except OSError as error:
        raise ImpactIQError(
            f"'{path}' cannot be read ({error.strerror or error}); check the file's permissions."
        ) from error


def _is_parquet(head: bytes, name: str) -> bool:
    """Whether the content is Parquet; a file named .parquet that is not one is an error."""
    if head.startswith(_PARQUET_MAGIC):
        return True
    if name.lower().endswith(_PARQUET_SUFFIXES):
        raise ImpactIQError(
            f"'{name}' is named like a Parquet file but its content is not Parquet (it may be "
            f"damaged or renamed). {_SAVE_AS}"
        )
    return False


def _read_parquet(data: bytes | None, path: Path | None, name: str) -> pa.Table:
    try:
        table = pq.read_table(pa.BufferReader(data) if path is None else path)
        table.schema.names  # noqa: B018 - names that are not UTF-8 fail here, not later
        return table
    except (pa.ArrowException, OSError, UnicodeDecodeError) as error:
        raise ImpactIQError(
            f"'{name}' starts like a Parquet file but cannot be read ({_reason(error)}). It may be "
            "truncated or damaged: upload it again, or save the table as CSV and upload that."
        ) from error


def _read_text(
    data: bytes | None, path: Path | None, name: str, head: bytes, warnings: list[str]
) -> pa.Table:
    """A CSV table, gzip-compressed or not, after checking that the content is text."""
    compressed = head.startswith(_GZIP_MAGIC)
    if compressed:
        head = _gunzip_head(data, path, name)
    # Excel's "Unicode text" export is UTF-16 with a byte-order mark.
    encoding = "utf-16" if head[:2] in _UTF16_BOMS else "utf8"
    if encoding == "utf-16":
        head = head.decode("utf-16", errors="replace").encode("utf-8")
    _check_text(head, name)
    head = head.removeprefix(_UTF8_BOM)
    delimiter = _sniff_delimiter(head)
    decimal_point = "," if delimiter != "," and _uses_decimal_comma(head, delimiter) else "."

    def stream() -> pa.NativeFile:
        raw = pa.BufferReader(data) if path is None else pa.OSFile(str(path))
        return pa.CompressedInputStream(raw, "gzip") if compressed else raw

    parse = pa_csv.ParseOptions(delimiter=delimiter)
    convert = pa_csv.ConvertOptions(strings_can_be_null=True, decimal_point=decimal_point)
    candidates = [(encoding, None)]
    if encoding == "utf8":
        # Bytes that are not UTF-8 at the start (a Latin-1 header row) skip the UTF-8 read;
        # further down they show as columns of bytes after it. Either way the fallbacks follow.
        candidates = [*(candidates if _is_utf8(head) else []), *_FALLBACK_ENCODINGS]
    table = None
    try:
        for number, candidate in enumerate(candidates, start=1):
            encoding, description = candidate
            try:
                table = _parse_csv(stream, encoding, parse, convert)
            except UnicodeDecodeError:
                if number == len(candidates):
                    raise
                continue
            if encoding != "utf8" or _is_utf8_table(table):
                break
            table = None  # free a UTF-8 read of text that is not UTF-8 before reading it again
    except pa.ArrowInvalid as error:
        message = str(error)
        if "Empty CSV file" in message:
            raise ImpactIQError(f"'{name}' holds no table. Upload the file that holds the table.") from error
        if message.startswith("CSV parse error"):
            raise _ragged_row_error(stream, encoding, parse, name) from error
        raise ImpactIQError(f"'{name}' could not be read as CSV: {message}. {_SAVE_AS}") from error
    except UnicodeDecodeError as error:
        raise ImpactIQError(
            f"'{name}' is not valid {encoding.upper()} text ({_reason(error)}). Save it as "
            '"CSV UTF-8" and upload it again.'
        ) from error
    except OSError as error:
        if compressed:
            raise ImpactIQError(
                f"'{name}' is a damaged or truncated gzip file ({_reason(error)}): it is cut short or "
                "holds corrupted bytes. Upload it again, compress the CSV again, or upload it "
                "uncompressed."
            ) from error
        raise ImpactIQError(
            f"'{name}' could not be read ({_reason(error)}). Check the file and try again."
        ) from error
    except pa.ArrowException as error:
        raise ImpactIQError(f"'{name}' could not be read as CSV ({_reason(error)}). {_SAVE_AS}") from error
    if description is not None:
        warnings.append(
            f"'{name}' is not UTF-8 text; it was read as {description}. If accented letters look "
            'wrong (in column names or values), save the file as "CSV UTF-8" and upload it again.'
        )
    return table


def _parse_csv(
    stream: Callable[[], pa.NativeFile],
    encoding: str,
    parse: pa_csv.ParseOptions,
    convert: pa_csv.ConvertOptions,
) -> pa.Table:
    """The CSV in `stream()`, read one block at a time where the file allows.

    The streaming reader takes each column's type from the first block (1 MB); a column whose
    later values do not fit it (text far down a number column) fails the read, and the file is
    then read again with the one-shot reader, which infers types from every block at the cost
    of about three times the table's memory while it reads. Its errors are the ones reported.
    """
    read = pa_csv.ReadOptions(encoding=encoding)
    try:
        with pa_csv.open_csv(
            stream(), read_options=read, parse_options=parse, convert_options=convert
        ) as reader:
            return reader.read_all()
    except pa.ArrowInvalid:
        pass
    return pa_csv.read_csv(stream(), read_options=read, parse_options=parse, convert_options=convert)


def _is_utf8(head: bytes) -> bool:
    """Whether `head`, the start of a text, is UTF-8 (a character cut off at its end is allowed)."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _stream_is_utf8(stream: pa.NativeFile) -> bool:
    """Whether all of `stream` is UTF-8, checked a block at a time (never the whole text at once)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with stream:
            while block := stream.read(SNIFF_BYTES * 16):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except (UnicodeDecodeError, OSError):
        return False
    return True


def _is_utf8_table(table: pa.Table) -> bool:
    """Whether a table read as UTF-8 was UTF-8: pyarrow keeps other text as bytes columns."""
    try:
        table.schema.names  # noqa: B018 - a name that is not UTF-8 fails to decode here
    except UnicodeDecodeError:
        return False
    return not any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in table.schema)


def _reason(error: BaseException) -> str:
    """An exception's message, short enough to quote in a sentence."""
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _gunzip_head(data: bytes | None, path: Path | None, name: str) -> bytes:
    """The first decompressed bytes of a gzip file, or an error if it is not valid gzip."""
    try:
        if path is None:
            return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(data[:SNIFF_BYTES], SNIFF_BYTES)
        with gzip.open(path, "rb") as handle:
            return handle.read(SNIFF_BYTES)
    except (zlib.error, OSError, EOFError) as error:
        raise ImpactIQError(
            f"'{name}' is a damaged gzip file ({error}). Compress the CSV again, or upload it uncompressed."
        ) from error


def _check_text(head: bytes, name: str) -> None:
    """Refuse workbooks, JSON and binary files with a message saying what they are."""
    suffix = Path(name).suffix.lower()
    if head.startswith(_ZIP_MAGIC):
        what = "an Excel workbook" if suffix in (".xlsx", ".xlsm") else "a zip archive or an Excel workbook"
    elif head.startswith(_OLE_MAGIC):
        what = "an Excel workbook (.xls)"
    elif head.removeprefix(_UTF8_BOM).lstrip()[:1] in (b"{", b"["):
        what = "JSON"
    elif suffix in _NOT_TABLE_SUFFIXES:
        what = _NOT_TABLE_SUFFIXES[suffix]
    elif b"\x00" in head:
        what = "binary data"
    else:
        return
    raise ImpactIQError(f"'{name}' looks like {what}, not a CSV or Parquet table. {_SAVE_AS}")


def _sniff_delimiter(head: bytes) -> str:
    """The separator that splits the header line into the most columns (comma on a tie)."""
    # Lines end in \n, \r\n or (old Mac files) a lone \r.
    header = re.split(rb"\r\n?|\n", head, maxsplit=1)[0].decode("utf-8", errors="replace")
    counts = {d: len(next(csv.reader([header], delimiter=d), [])) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first of equal counts


def _uses_decimal_comma(head: bytes, delimiter: str) -> bool:
    """Whether numbers in the first lines are written '1,5' (and never '1.5')."""
    # A last line cut off at SNIFF_BYTES is harmless: cutting '1.25' never makes '1,5'.
    lines = head.decode("utf-8", errors="replace").splitlines()[1:]
    fields = [f.strip().strip('"') for line in lines for f in line.split(delimiter)]
    return any(map(_DECIMAL_COMMA.match, fields)) and not any(map(_DECIMAL_POINT.match, fields))


def _ragged_row_error(
    stream: Callable[[], pa.NativeFile], encoding: str, parse: pa_csv.ParseOptions, name: str
) -> ImpactIQError:
    """An error naming the first line whose number of values differs from the header's.

    The multi-threaded read cannot tell line numbers, so this reads again on one thread and
    stops at the first bad line. pyarrow hands that line over as UTF-8 text, so a file that
    is not UTF-8 after all is searched as Latin-1 (one byte, one character: same lines).
    """
    bad = []

    def record(row) -> str:
        bad.append(row)
        return "error"

    if encoding == "utf8" and not _stream_is_utf8(stream()):
        encoding = "latin-1"
    options = pa_csv.ParseOptions(delimiter=parse.delimiter, invalid_row_handler=record)
    read = pa_csv.ReadOptions(use_threads=False, encoding=encoding)
    # `record` stops the read at the first bad line; a read that fails otherwise names no line.
    with contextlib.suppress(pa.ArrowException, OSError, UnicodeDecodeError):
        pa_csv.read_csv(stream(), read_options=read, parse_options=options)
    if not bad:
        return ImpactIQError(
            f"'{name}' has a line whose number of values differs from the header's. {_SAVE_AS}"
        )
    row = bad[0]
    where = (
        f"Line {row.number} of '{name}' (data row {row.number - 1})" if row.number else f"A line of '{name}'"
    )
    shown = "tab" if parse.delimiter == "\t" else f"'{parse.delimiter}'"
    return ImpactIQError(
        f"{where} has {row.actual_columns} value(s) but the header has {row.expected_columns} "
        f"columns: {row.text[:80]!r}. Fix or delete that line; a value that contains the "
        f"separator {shown} must be inside double quotes."
    )


def _tidy(table: pa.Table, name: str) -> pa.Table:
    """Name the columns as a user sees them; refuse a table without rows or with a name twice.

    Names lose surrounding spaces (' treatment' is 'treatment'). A column without a name is
    dropped when it is empty too (a spreadsheet's trailing separator) and otherwise called
    column_<position> (a pandas index written to CSV).
    """
    # pandas writes a non-default index into Parquet as a column of its own; it is not data.
    table = table.drop_columns([n for n in table.column_names if _PANDAS_INDEX.fullmatch(n)])
    names = [str(n).strip() for n in table.column_names]
    unnamed = [i for i, n in enumerate(names) if not n]
    for i in reversed(unnamed):
        if table.column(i).null_count == table.num_rows:
            table = table.remove_column(i)
            del names[i]
        else:
            names[i] = f"column_{i + 1}"
    duplicates = sorted(n for n, count in Counter(names).items() if count > 1)
    if duplicates:
        shown = ", ".join(f"'{n}'" for n in duplicates)
        raise ImpactIQError(
            f"'{name}' has more than one column named {shown}. Rename the columns in the header "
            "row so that every name is different."
        )
    if table.num_columns == 0 or table.num_rows == 0:
        raise ImpactIQError(
            f"'{name}' has a header row but no data rows. Upload the file that holds the rows."
        )
    return table.rename_columns(names)


def _compact(table: pa.Table) -> pa.Table:
    """Narrow integers and dictionary-encode text, without losing any value."""
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_integer(field.type):
            column = column.cast(_narrowest_integer(column))
        elif pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            column = column.dictionary_encode()
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def _to_pandas(table: pa.Table, name: str) -> pd.DataFrame:
    """The table as a DataFrame; `table` must not be used afterwards.

    `split_blocks` keeps one pandas block per column, so columns are not copied once more into
    a shared block; `self_destruct` lets Arrow free each column once converted.
    """
    try:
        return table.to_pandas(split_blocks=True, self_destruct=True)
    except (pa.ArrowException, UnicodeDecodeError) as error:
        # Parquet does not check that its text is UTF-8; a damaged file fails only here.
        raise ImpactIQError(
            f"'{name}' could not be turned into a table ({_reason(error)}); it may be damaged. Save "
            "the table again as CSV (UTF-8) or Parquet and upload that."
        ) from error


def _narrowest_integer(column: pa.ChunkedArray) -> pa.DataType:
    bounds = pc.min_max(column)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low is None:
        return pa.int8()
    for kind, limit in ((pa.int8(), 2**7), (pa.int16(), 2**15), (pa.int32(), 2**31)):
        if -limit <= low and high < limit:
            return kind
    return column.type


def _megabytes(size: int) -> str:
    """A size as people read it; one decimal below 100 MB so that 1.6 MB does not show as 2."""
    megabytes = size / 1024**2
    if megabytes >= 100:
        return f"{megabytes:,.0f} MB"
    return f"{megabytes:.1f} MB" if size >= 1024**2 else f"{size:,} bytes"
