import gzip
import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from impactiq.data.reader import MAX_UPLOAD_BYTES, SNIFF_BYTES, read_table, read_warnings, table_stem
from impactiq.errors import ImpactIQError

CRITEO_COLUMNS = [*(f"f{i}" for i in range(12)), "treatment", "conversion", "visit", "exposure"]


def criteo_table(n_rows: int = 50, seed: int = 0) -> pd.DataFrame:
    """Criteo's column order and value kinds: long float features, 0/1 columns."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({f"f{i}": rng.normal(10, 5, n_rows) for i in range(12)})
    for name in ("treatment", "conversion", "visit", "exposure"):
        table[name] = rng.integers(0, 2, n_rows)
    return table


def as_csv(table: pd.DataFrame, sep: str = ",") -> bytes:
    return table.to_csv(index=False, sep=sep).encode()


def as_parquet(table: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    return buffer.getvalue()


ENCODERS = {
    "data.csv": as_csv,
    "data.csv.gz": lambda table: gzip.compress(as_csv(table)),
    "data.parquet": as_parquet,
    "data.pq": as_parquet,
}


@pytest.mark.parametrize("filename", list(ENCODERS))
@pytest.mark.parametrize("from_path", [False, True])
def test_reads_every_format_from_bytes_and_path(filename, from_path, tmp_path):
    table = criteo_table()
    raw = ENCODERS[filename](table)
    if from_path:
        (tmp_path / filename).write_bytes(raw)
        read = read_table(tmp_path / filename)
    else:
        read = read_table(raw, filename=filename)
    assert list(read.columns) == CRITEO_COLUMNS
    # Floats are kept exactly (float64); 0/1 columns shrink to int8 with the same values.
    np.testing.assert_array_equal(
        read[[f"f{i}" for i in range(12)]].to_numpy(), table.iloc[:, :12].to_numpy()
    )
    assert (read.dtypes.iloc[:12] == np.float64).all()
    for name in ("treatment", "conversion", "visit", "exposure"):
        assert read[name].dtype == np.int8
        np.testing.assert_array_equal(read[name], table[name])


def test_reads_a_path_given_as_text(tmp_path):
    (tmp_path / "t.csv").write_bytes(b"a,b\n1,2\n")
    assert read_table(str(tmp_path / "t.csv"))["b"].tolist() == [2]


def test_format_comes_from_content_not_name():
    table = criteo_table()
    assert read_table(gzip.compress(as_csv(table)), filename="data.csv").shape == table.shape
    assert read_table(as_parquet(table), filename="export.bin").shape == table.shape


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        ([0, 1, 1], np.int8),
        ([-5, 100, 3], np.int8),
        ([0, 1000, 3], np.int16),
        ([0, 100_000, 3], np.int32),
        ([0, 2**40, 3], np.int64),
    ],
)
def test_integers_shrink_to_the_narrowest_type_that_holds_them(values, dtype):
    read = read_table(as_csv(pd.DataFrame({"x": values})))
    assert read["x"].dtype == dtype
    assert read["x"].tolist() == values


def test_text_becomes_categorical_and_empty_cells_missing():
    read = read_table(b"segment,spend,city\nMens E-Mail,29.99,Rome\nNo E-Mail,,\nMens E-Mail,0,Oslo\n")
    assert isinstance(read["segment"].dtype, pd.CategoricalDtype)
    assert sorted(read["segment"].cat.categories) == ["Mens E-Mail", "No E-Mail"]
    assert read["city"].isna().tolist() == [False, True, False]
    # Amounts stay float64: a float32 would store 29.99 as 29.9899998.
    assert read["spend"].dtype == np.float64 and read["spend"].iloc[0] == 29.99
    assert np.isnan(read["spend"].iloc[1])


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_detects_the_separator(sep):
    table = criteo_table(n_rows=10)
    read = read_table(as_csv(table, sep=sep), filename="data.txt")
    assert list(read.columns) == CRITEO_COLUMNS
    np.testing.assert_array_equal(read.to_numpy(), table.to_numpy())


@pytest.mark.parametrize(
    ("raw", "prices"),
    [
        (b"name;price;n\nx;1,5;3\ny;-2,25;4\n", [1.5, -2.25]),
        (b"name;price;n\nx;1,5;3", [1.5]),
        (b'name\tprice\tn\n"x"\t"0,75"\t3\n', [0.75]),
        (b"name;price;n\nx;1.5;3\ny;2;4\n", [1.5, 2.0]),
    ],
)
def test_reads_a_decimal_comma_next_to_semicolons_or_tabs(raw, prices):
    read = read_table(raw)
    assert read["price"].tolist() == prices
    assert read["n"].dtype == np.int8


def test_keeps_a_quoted_decimal_comma_as_text_when_commas_separate():
    read = read_table(b'a,b\n"1,5",2\n')
    assert read["a"].astype(str).tolist() == ["1,5"]


@pytest.mark.parametrize(
    ("raw", "columns"),
    [
        (b"\xef\xbb\xbftreatment,visit\n1,0\n", ["treatment", "visit"]),  # Excel's UTF-8 mark
        (b" treatment , visit\n1,0\n", ["treatment", "visit"]),  # spaces around names
        (b"a,b,\n1,2,\n", ["a", "b"]),  # trailing separator: an empty, unnamed column
        (b",a,b\n0,1,2\n", ["column_1", "a", "b"]),  # a pandas index written to CSV
    ],
)
def test_column_names_as_a_user_sees_them(raw, columns):
    assert list(read_table(raw).columns) == columns


def test_reads_utf16_text_as_excel_writes_it():
    read = read_table("name\tx\ncafé\t1\n".encode("utf-16"), filename="export.txt")
    assert read["name"].tolist() == ["café"] and read["x"].tolist() == [1]


def test_reads_latin1_text():
    read = read_table("city,x\nZürich,1\nOslo,2\n".encode("latin-1"))
    assert read["city"].tolist() == ["Zürich", "Oslo"]


NOT_UTF8 = "is not UTF-8 text; it was read as"


@pytest.mark.parametrize("from_path", [False, True])
@pytest.mark.parametrize("compress", [False, True])
def test_reads_a_latin1_header_row_with_a_warning(from_path, compress, tmp_path):
    raw = "réponse,âge,x\n1,30,2.5\n0,41,3.5\n".encode("latin-1")
    raw = gzip.compress(raw) if compress else raw
    source = raw
    if from_path:
        source = tmp_path / "latin.csv"
        source.write_bytes(raw)
    read = read_table(source, filename="latin.csv")
    assert list(read.columns) == ["réponse", "âge", "x"]
    assert read["âge"].tolist() == [30, 41] and read["x"].tolist() == [2.5, 3.5]
    assert read_warnings(read) == [
        f"'latin.csv' {NOT_UTF8} Windows-1252 (Western European), the encoding of a spreadsheet's "
        '"CSV" export on Windows. If accented letters look wrong (in column names or values), save '
        'the file as "CSV UTF-8" and upload it again.'
    ]


def test_reads_windows_1252_punctuation():
    read = read_table("name,price\n“Deluxe”,€5\n".encode("cp1252"))
    assert read["name"].tolist() == ["“Deluxe”"] and read["price"].tolist() == ["€5"]
    assert "Windows-1252" in read_warnings(read)[0]


def test_bytes_that_windows_1252_leaves_out_are_read_as_latin1():
    read = read_table(b"name,x\nA\x81B,1\n")
    assert read["name"].tolist() == ["A\x81B"]
    assert "Latin-1 (ISO-8859-1)" in read_warnings(read)[0]


def test_text_that_stops_being_utf8_far_down_is_read_again():
    # The first block is UTF-8 (and ASCII); a Latin-1 value comes after the part the reader sniffs.
    raw = b"city,x\n" + b"Oslo,1\n" * (2 * SNIFF_BYTES // 7) + "Zürich,2\n".encode("latin-1")
    read = read_table(raw, filename="cities.csv")
    assert read["city"].iloc[-1] == "Zürich" and read["city"].iloc[0] == "Oslo"
    assert NOT_UTF8 in read_warnings(read)[0]


@pytest.mark.parametrize(
    "raw",
    [b"a,b\n1,2\n", "café,x\n1,2\n".encode(), "name\tx\ncafé\t1\n".encode("utf-16"), b"\xef\xbb\xbfa\n1\n"],
)
def test_unicode_text_reads_without_warnings(raw):
    assert read_warnings(read_table(raw)) == []


def test_a_frame_not_from_the_reader_has_no_read_warnings():
    assert read_warnings(pd.DataFrame({"a": [1]})) == []


@pytest.mark.parametrize(
    ("raw", "filename", "match"),
    [
        (b"", "data.csv", r"'data.csv' is empty \(0 bytes\)"),
        (b"\n\n", "data.csv", "holds no table"),
        (b"a,b\n", "data.csv", "header row but no data rows"),
        (b"a,b\n\n\n", "data.csv", "header row but no data rows"),
        (gzip.compress(b""), "data.csv.gz", "holds no table"),
        (b"PK\x03\x04\x14\x00\x06\x00", "book.xlsx", "Excel workbook.*Save it as CSV"),
        (b"PK\x03\x04\x14\x00\x06\x00", "data.zip", "zip archive.*Save it as CSV"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "book.xls", r"Excel workbook \(.xls\).*Save it as CSV"),
        (b"a,b\n1,2\n", "book.xlsx", "Excel workbook.*Save it as CSV"),
        (b'{"treatment": [1, 0]}', "data.csv", "JSON.*Save it as CSV"),
        (b'  [{"treatment": 1}]', "data.txt", "JSON.*Save it as CSV"),
        (b"a,b\n1,2\n", "data.json", "JSON.*Save it as CSV"),
        (b"\x00\x01\x02\x03binary\xff", "data.csv", "binary data.*Save it as CSV"),
        (b"a,b\n1,2\n", "data.parquet", "named like a Parquet file but its content is not Parquet"),
        (b"PAR1 but then nothing", "data.parquet", "cannot be read.*truncated"),
        (b"\x1f\x8b\x08broken", "data.csv.gz", "damaged gzip file"),
    ],
)
def test_refuses_what_is_not_a_table(raw, filename, match):
    with pytest.raises(ImpactIQError, match=match):
        read_table(raw, filename=filename)


@pytest.mark.parametrize("from_path", [False, True])
@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9])
def test_gzip_cut_short_is_refused(cut, from_path, tmp_path):
    raw = gzip.compress(as_csv(criteo_table(n_rows=3_000)))
    raw = raw[: int(len(raw) * cut)]
    source = raw
    if from_path:
        source = tmp_path / "data.csv.gz"
        source.write_bytes(raw)
    with pytest.raises(
        ImpactIQError, match=r"'data.csv.gz' is a damaged or truncated gzip file.*Upload it again"
    ):
        read_table(source, filename="data.csv.gz")


def test_gzip_with_corrupted_bytes_is_refused():
    raw = bytearray(gzip.compress(as_csv(criteo_table(n_rows=3_000))))
    raw[len(raw) // 2 : len(raw) // 2 + 20] = bytes(20)
    with pytest.raises(ImpactIQError, match=r"damaged or truncated gzip file \(.*\)"):
        read_table(bytes(raw), filename="data.csv.gz")


def test_broken_utf16_is_refused():
    raw = "name\tx\ncafé\t1\n".encode("utf-16")[:-1]  # an odd number of bytes
    with pytest.raises(ImpactIQError, match=r"'data.txt' is not valid UTF-16 text.*CSV UTF-8"):
        read_table(raw, filename="data.txt")


def test_parquet_whose_text_is_not_utf8_is_refused():
    # Parquet does not check its text; pyarrow fails only when turning it into Python strings.
    bad = pa.Array.from_buffers(
        pa.string(),
        1,
        [None, pa.py_buffer(np.array([0, 2], dtype=np.int32).tobytes()), pa.py_buffer(b"\xe9x")],
    )
    buffer = io.BytesIO()
    pq.write_table(pa.table({"city": bad, "x": [1]}), buffer)
    with pytest.raises(ImpactIQError, match=r"'data.parquet' could not be turned into a table.*damaged"):
        read_table(buffer.getvalue(), filename="data.parquet")


def test_old_mac_line_ends_are_read():
    read = read_table(b"a;b\r1;2\r3;4\r")
    assert list(read.columns) == ["a", "b"] and read["b"].tolist() == [2, 4]


def test_parquet_cut_short_is_refused():
    raw = as_parquet(criteo_table())
    with pytest.raises(ImpactIQError, match="cannot be read.*truncated"):
        read_table(raw[: len(raw) // 2], filename="data.parquet")


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (
            b"a,b\n1,2\n3\n4,5\n",
            r"Line 3 of 'data.csv' \(data row 2\) has 1 value\(s\) but the header has 2 columns: '3'",
        ),
        (b"a,b\n1,2\n4,5\n6,7,8\n", r"Line 4 of 'data.csv' \(data row 3\) has 3 value\(s\).*double quotes"),
        (b"a;b\n1;2\n3;4;5\n", r"Line 3 .* separator ';' must be inside double quotes"),
    ],
)
def test_ragged_line_is_named(raw, match):
    with pytest.raises(ImpactIQError, match=match):
        read_table(raw, filename="data.csv")


def test_ragged_line_is_named_in_text_that_is_not_utf8():
    n_rows = 2 * SNIFF_BYTES // 7
    raw = b"city,x\n" + b"Oslo,1\n" * n_rows + "Zürich,2,3\n".encode("latin-1")
    with pytest.raises(
        ImpactIQError, match=rf"Line {n_rows + 2} of 'c.csv' .* has 3 value\(s\).*'Zürich,2,3'"
    ):
        read_table(raw, filename="c.csv")


@pytest.mark.parametrize("compress", [False, True])
def test_ragged_line_is_named_in_a_file_on_disk(compress, tmp_path):
    raw = b"x,y\n" + b"1,2\n" * 5000 + b"7\n"
    path = tmp_path / ("t.csv.gz" if compress else "t.csv")
    path.write_bytes(gzip.compress(raw) if compress else raw)
    with pytest.raises(ImpactIQError, match=r"Line 5002 of 't.csv(.gz)?' \(data row 5001\)"):
        read_table(path)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"a,b,a\n1,2,3\n", "more than one column named 'a'"),
        (b"a,b,a,b\n1,2,3,4\n", "more than one column named 'a', 'b'"),
        (b"visit, visit\n1,2\n", "more than one column named 'visit'"),
    ],
)
def test_duplicate_column_names_are_named(raw, match):
    with pytest.raises(ImpactIQError, match=match):
        read_table(raw)


@pytest.mark.parametrize("from_path", [False, True])
def test_file_over_the_limit_says_size_limit_and_fix(from_path, tmp_path):
    raw = as_csv(criteo_table(n_rows=5000))  # 1.1 MB
    source = raw
    if from_path:
        source = tmp_path / "big.csv"
        source.write_bytes(raw)
    with pytest.raises(
        ImpactIQError, match=r"'big.csv' is 1.1 MB; the limit is 1.0 MB.*sample.*Parquet.*command line"
    ):
        read_table(source, filename="big.csv", max_bytes=1024**2)
    assert len(read_table(source, filename="big.csv", max_bytes=None)) == 5000


def test_upload_limit_matches_the_app_setting():
    assert MAX_UPLOAD_BYTES == 1024 * 1024**2


@pytest.mark.parametrize(("name", "match"), [("missing.csv", "There is no file"), (".", "is a folder")])
def test_bad_paths_are_named(name, match, tmp_path):
    with pytest.raises(ImpactIQError, match=match):
        read_table(tmp_path / name)


def test_refuses_a_source_of_the_wrong_type():
    with pytest.raises(TypeError, match="bytes of a file or a path"):
        read_table(io.BytesIO(b"a\n1\n"))


def test_a_column_with_text_far_down_is_read_whole():
    # pyarrow infers types from the first block; a late non-number must not abort the read.
    raw = b"f3,y\n" + b"1.5,0\n" * 300_000 + b"abc,1\n"
    read = read_table(raw)
    assert len(read) == 300_001
    assert read["f3"].astype(str).iloc[-1] == "abc"


def test_a_pandas_index_stored_in_parquet_is_not_a_column():
    table = pd.DataFrame({"visit": [0, 1, 1], "f0": [0.5, 1.5, 2.5]}).iloc[[0, 2]]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(table, preserve_index=True), buffer)
    read = read_table(buffer.getvalue(), filename="data.parquet")
    assert list(read.columns) == ["visit", "f0"]
    assert read["f0"].tolist() == [0.5, 2.5]


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("spring.2024.csv.gz", "spring.2024"),
        ("Campaign.CSV", "Campaign"),
        ("users.parquet", "users"),
        ("log.tsv.gzip", "log"),
        ("profiles", "profiles"),
        ("notes.v2", "notes.v2"),
    ],
)
def test_an_uploads_stem_drops_only_its_format_suffixes(name, stem):
    assert table_stem(name) == stem


def test_a_file_that_cannot_be_read_says_so(tmp_path, monkeypatch):
    """Seen: a PermissionError traceback for a table the user may not read."""
    from pathlib import Path

    path = tmp_path / "secret.csv"
    path.write_text("a\n1\n")
    real_open = Path.open

    def denied(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(ImpactIQError, match=r"secret.csv' cannot be read \(Permission denied\)"):
        read_table(path)
