"""The sandbox's receipt files are real, valid PDF, PNG and JPEG files (issue 3, "Receipts").

Each format is checked structurally by an independent parser written here (PDF cross-reference
offsets, PNG chunk CRCs and pixel data, JPEG segment lengths and a decode of the Huffman-coded
scan); if Pillow happens to be installed, the images are opened with it too.
"""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pleo_erp.testing.sandbox.files import make_jpeg, make_pdf, make_png

# ---------------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------------


def _check_pdf(data: bytes) -> dict[int, bytes]:
    """Validate header, xref offsets, trailer and stream lengths; return object bodies."""
    assert data.startswith(b"%PDF-1.")
    assert data.rstrip(b"\r\n").endswith(b"%%EOF")
    startxref = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data)
    assert startxref, "startxref missing"
    xref_at = int(startxref.group(1))
    assert data[xref_at : xref_at + 4] == b"xref"
    header = re.match(rb"xref\r?\n(\d+) (\d+)\r?\n", data[xref_at:])
    assert header
    first, count = int(header.group(1)), int(header.group(2))
    assert first == 0
    table_at = xref_at + header.end()
    objects: dict[int, bytes] = {}
    for number in range(count):
        entry = data[table_at + 20 * number : table_at + 20 * (number + 1)]
        assert len(entry) == 20
        assert entry[18:20] in (b"\r\n", b" \n", b" \r")
        offset, generation, kind = int(entry[:10]), int(entry[11:16]), entry[17:18]
        if number == 0:
            assert (generation, kind) == (65535, b"f")
            continue
        assert kind == b"n"
        expected = b"%d %d obj" % (number, generation)
        assert data[offset : offset + len(expected)] == expected, f"object {number} offset"
        end = data.index(b"endobj", offset)
        objects[number] = data[offset + len(expected) : end]
    trailer = data[table_at + 20 * count :]
    assert trailer.startswith(b"trailer")
    size = re.search(rb"/Size (\d+)", trailer)
    root = re.search(rb"/Root (\d+) 0 R", trailer)
    assert size
    assert root
    assert int(size.group(1)) == count
    assert b"/Type /Catalog" in objects[int(root.group(1))]
    for body in objects.values():
        if b"stream" in body:
            length = re.search(rb"/Length (\d+)", body)
            assert length
            start = body.index(b"stream\n") + len(b"stream\n")
            stop = body.index(b"endstream")
            assert stop - start == int(length.group(1))
    return objects


def _pdf_text(objects: dict[int, bytes]) -> list[bytes]:
    """The literal strings shown in content streams, with escapes undone."""
    shown: list[bytes] = []
    for body in objects.values():
        if b"stream" not in body:
            continue
        stream = body[body.index(b"stream\n") + 7 : body.index(b"endstream")]
        for raw in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*(?:Tj|')", stream, re.DOTALL):
            unescaped = re.sub(
                rb"\\([0-7]{3}|.)",
                lambda m: bytes([int(m.group(1), 8)]) if len(m.group(1)) == 3 else m.group(1),
                raw,
            )
            shown.append(unescaped)
    return shown


def test_pdf_is_structurally_valid_and_shows_each_line() -> None:
    pdf = make_pdf("Receipt NS-2026-000001\nTotal 189.00 DKK\nKøbsmoms (25 %) \\ ok")
    objects = _check_pdf(pdf)
    assert _pdf_text(objects) == [
        b"Receipt NS-2026-000001",
        b"Total 189.00 DKK",
        "Købsmoms (25 %) \\ ok".encode("cp1252"),
    ]
    assert b"/Type /Page " in pdf
    assert b"/Count 1" in pdf


def test_pdf_title_goes_to_the_info_dictionary() -> None:
    pdf = make_pdf("body", title="Joe & The Juice (receipt)")
    assert rb"/Title (Joe & The Juice \(receipt\))" in pdf
    _check_pdf(pdf)


def test_pdf_detects_a_broken_offset() -> None:
    """Honesty check for the parser: shifting the bytes breaks the xref."""
    pdf = make_pdf("hello")
    with pytest.raises(AssertionError):
        _check_pdf(pdf.replace(b"%PDF-1.4\n", b"%PDF-1.4\n\n", 1))


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_pdf_is_valid_for_any_text(text: str) -> None:
    objects = _check_pdf(make_pdf(text))
    expected = [line.encode("cp1252", errors="replace") for line in text.split("\n")]
    assert _pdf_text(objects) == expected


# ---------------------------------------------------------------------------------------------
# PNG
# ---------------------------------------------------------------------------------------------


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks: list[tuple[bytes, bytes]] = []
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    assert pos == len(data)
    return chunks


def test_png_header_crcs_and_pixels() -> None:
    png = make_png(5, 3, (10, 200, 30), text="receipt NS-1")
    chunks = _png_chunks(png)
    kinds = [kind for kind, _ in chunks]
    assert kinds[0] == b"IHDR"
    assert kinds[-1] == b"IEND"
    assert b"IDAT" in kinds
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", chunks[0][1]
    )
    assert (width, height, depth, colour, compression, filtering, interlace) == (
        5,
        3,
        8,
        2,
        0,
        0,
        0,
    )
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert raw == (b"\x00" + bytes((10, 200, 30)) * 5) * 3
    assert (b"tEXt", b"Comment\x00receipt NS-1") in chunks


def test_png_crc_check_catches_corruption() -> None:
    png = bytearray(make_png(2, 2, (1, 2, 3)))
    png[20] ^= 0xFF  # inside IHDR data
    with pytest.raises(AssertionError, match="CRC"):
        _png_chunks(bytes(png))


@pytest.mark.parametrize(("width", "height", "rgb"), [(0, 1, (0, 0, 0)), (1, 1, (0, 0, 256))])
def test_png_rejects_bad_arguments(width: int, height: int, rgb: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        make_png(width, height, rgb)


# ---------------------------------------------------------------------------------------------
# JPEG
# ---------------------------------------------------------------------------------------------


def _jpeg_segments(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Walk marker segments up to SOS; return them and the entropy-coded scan bytes."""
    assert data[:2] == b"\xff\xd8"
    assert data[-2:] == b"\xff\xd9"
    segments: list[tuple[int, bytes]] = []
    pos = 2
    while True:
        assert data[pos] == 0xFF, f"marker expected at {pos}"
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        assert length >= 2
        segments.append((marker, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
        if marker == 0xDA:
            break
    scan = data[pos:-2]
    # Inside the scan, 0xFF must be stuffed (FF 00) or a restart marker.
    for index in range(len(scan)):
        if scan[index] == 0xFF:
            assert index + 1 < len(scan)
            assert scan[index + 1] == 0x00 or 0xD0 <= scan[index + 1] <= 0xD7
    return segments, scan


class _Bits:
    def __init__(self, scan: bytes) -> None:
        self.data = scan.replace(b"\xff\x00", b"\xff")
        self.pos = 0

    def bit(self) -> int:
        byte = self.data[self.pos // 8]
        value = (byte >> (7 - self.pos % 8)) & 1
        self.pos += 1
        return value

    def bits(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = (value << 1) | self.bit()
        return value


def _decode_table(body: bytes) -> tuple[int, dict[tuple[int, int], int]]:
    klass_id, counts, values = body[0], body[1:17], body[17:]
    table: dict[tuple[int, int], int] = {}
    code = index = 0
    for length, count in enumerate(counts, start=1):
        for _ in range(count):
            table[(length, code)] = values[index]
            code += 1
            index += 1
        code <<= 1
    assert index == len(values)
    return klass_id, table


def _read_symbol(bits: _Bits, table: dict[tuple[int, int], int]) -> int:
    code = 0
    for length in range(1, 17):
        code = (code << 1) | bits.bit()
        if (length, code) in table:
            return table[(length, code)]
    raise AssertionError("invalid Huffman code")


def _decode_flat_jpeg(data: bytes) -> dict[str, Any]:
    """Decode a baseline 4:4:4 JPEG's DC terms; return size, comment and mean YCbCr per block."""
    segments, scan = _jpeg_segments(data)
    by_marker: dict[int, list[bytes]] = {}
    for marker, body in segments:
        by_marker.setdefault(marker, []).append(body)
    assert by_marker[0xE0][0].startswith(b"JFIF\x00")
    sof = by_marker[0xC0][0]
    precision, height, width, components = struct.unpack(">BHHB", sof[:6])
    assert (precision, components) == (8, 3)
    quant = by_marker[0xDB][0]
    assert len(quant) == 65
    q0 = quant[1]
    tables = dict(_decode_table(body) for body in by_marker[0xC4])
    dc_table, ac_table = tables[0x00], tables[0x10]
    bits = _Bits(scan)
    predictors = [0, 0, 0]
    blocks: list[tuple[int, int, int]] = []
    for _ in range(((width + 7) // 8) * ((height + 7) // 8)):
        values = []
        for component in range(3):
            category = _read_symbol(bits, dc_table)
            extra = bits.bits(category)
            if category and extra < (1 << (category - 1)):
                extra -= (1 << category) - 1
            predictors[component] += extra
            values.append(predictors[component] * q0 // 8 + 128)
            coefficient = 1
            while coefficient < 64:
                symbol = _read_symbol(bits, ac_table)
                if symbol == 0x00:
                    break
                run, size = symbol >> 4, symbol & 0x0F
                bits.bits(size)
                coefficient += run + 1
        blocks.append((values[0], values[1], values[2]))
    # Only 1-bit padding may remain.
    remaining = len(bits.data) * 8 - bits.pos
    assert remaining < 8
    assert bits.bits(remaining) == (1 << remaining) - 1
    comment = by_marker.get(0xFE, [b""])[0].decode("utf-8")
    return {"width": width, "height": height, "blocks": blocks, "comment": comment}


def _to_rgb(ycc: tuple[int, int, int]) -> tuple[float, float, float]:
    y, cb, cr = ycc
    return (
        y + 1.402 * (cr - 128),
        y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128),
        y + 1.772 * (cb - 128),
    )


def test_jpeg_segments_scan_and_colour_decode() -> None:
    jpeg = make_jpeg(20, 12, (200, 30, 60), comment="receipt NS-2026-000007")
    decoded = _decode_flat_jpeg(jpeg)
    assert (decoded["width"], decoded["height"]) == (20, 12)
    assert decoded["comment"] == "receipt NS-2026-000007"
    assert len(decoded["blocks"]) == 3 * 2
    assert len(set(decoded["blocks"])) == 1
    for got, want in zip(_to_rgb(decoded["blocks"][0]), (200, 30, 60), strict=True):
        assert abs(got - want) <= 3


def test_jpeg_comment_makes_files_unique() -> None:
    first = make_jpeg(comment="a")
    assert first != make_jpeg(comment="b")
    assert make_jpeg() != first
    _jpeg_segments(make_jpeg())  # no COM segment is fine too


def test_jpeg_parser_catches_a_wrong_segment_length() -> None:
    jpeg = bytearray(make_jpeg(comment="x"))
    jpeg[5] += 1  # APP0 length
    with pytest.raises(AssertionError):
        _decode_flat_jpeg(bytes(jpeg))


@settings(max_examples=50, deadline=None)
@given(
    st.integers(1, 70),
    st.integers(1, 70),
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
    st.one_of(st.none(), st.text(max_size=40)),
)
def test_jpeg_is_decodable_for_any_size_colour_and_comment(
    width: int, height: int, rgb: tuple[int, int, int], comment: str | None
) -> None:
    decoded = _decode_flat_jpeg(make_jpeg(width, height, rgb, comment=comment))
    assert (decoded["width"], decoded["height"]) == (width, height)
    assert decoded["comment"] == (comment or "")
    for got, want in zip(_to_rgb(decoded["blocks"][0]), rgb, strict=True):
        # 4:4:4, quantiser 1: only the YCbCr rounding and clamping remain.
        assert abs(min(255, max(0, got)) - want) <= 3


def test_jpeg_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        make_jpeg(0, 8)
    with pytest.raises(ValueError):
        make_jpeg(8, 8, (0, -1, 0))


# ---------------------------------------------------------------------------------------------
# Optional: Pillow, when it happens to be installed (it is not a dependency)
# ---------------------------------------------------------------------------------------------


def test_pillow_opens_the_images_if_available() -> None:
    image_module = pytest.importorskip("PIL.Image")
    import io

    with image_module.open(io.BytesIO(make_png(4, 4, (1, 2, 3)))) as png:
        png.load()
        assert png.size == (4, 4)
        assert png.getpixel((0, 0)) == (1, 2, 3)
    with image_module.open(io.BytesIO(make_jpeg(16, 8, (90, 160, 220), comment="c"))) as jpeg:
        jpeg.load()
        assert jpeg.size == (16, 8)
        pixel = jpeg.convert("RGB").getpixel((3, 3))
        assert all(abs(a - b) <= 3 for a, b in zip(pixel, (90, 160, 220), strict=True))
