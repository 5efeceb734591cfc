"""Small, real, valid receipt files (PDF, PNG, JPEG) built with the standard library only.

The sandbox serves these as ``files[].url`` downloads so that an integration under test handles
actual bytes of the allowed receipt formats (``.pdf``, ``.png``, ``.jpg``) instead of placeholders:
content-type checks, size limits, PDF merging and attachment uploads all see genuine files.

* :func:`make_pdf` writes a one-page PDF 1.4 with one or more text lines and a correct
  cross-reference table (byte offsets computed, not guessed).
* :func:`make_png` writes an 8-bit truecolour PNG (``IHDR``/``IDAT``/``IEND``, zlib-compressed
  scanlines, CRC-32 per chunk), optionally with a ``tEXt`` comment.
* :func:`make_jpeg` encodes a baseline (SOF0) JFIF image of one colour with a real Huffman-coded
  scan, optionally with a ``COM`` segment; a per-receipt comment makes every file unique while
  keeping it a valid image.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

__all__ = ["make_jpeg", "make_pdf", "make_png"]

RGB = tuple[int, int, int]

# ---------------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------------


def _pdf_literal(text: str) -> bytes:
    """Encode ``text`` as a PDF literal string in WinAnsi (cp1252), escaping delimiters."""
    raw = text.encode("cp1252", errors="replace")
    out = bytearray(b"(")
    for byte in raw:
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif byte < 0x20 or byte > 0x7E:
            # Octal escapes keep the file 7-bit clean; any byte is allowed this way.
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    out += b")"
    return bytes(out)


def make_pdf(text: str, *, title: str | None = None) -> bytes:
    """Return a minimal valid one-page A4 PDF showing ``text`` (one line per ``\\n``).

    Helvetica with WinAnsiEncoding is used, so Latin-1 text such as "Købsmoms" renders;
    characters outside cp1252 are replaced by ``?``. ``title`` goes into the document info.
    """
    lines = text.split("\n") or [""]
    content = bytearray(b"BT\n/F1 12 Tf\n16 TL\n72 770 Td\n")
    for index, line in enumerate(lines):
        content += _pdf_literal(line) + (b" Tj\n" if index == 0 else b" '\n")
    content += b"ET\n"

    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(content) + bytes(content) + b"endstream",
        b"<< /Title " + _pdf_literal(title or lines[0]) + b" /Producer (pleo-erp sandbox) >>",
    ]

    # A binary comment on line 2 marks the file as binary for transfer tools (PDF 7.5.2).
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_offset = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    # Each xref entry is exactly 20 bytes: 10-digit offset, 5-digit generation, type, EOL.
    out += b"0000000000 65535 f\r\n"
    for offset in offsets:
        out += b"%010d 00000 n\r\n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (len(objects) + 1, len(objects))
    out += b"startxref\n%d\n%%%%EOF\n" % xref_offset
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# PNG
# ---------------------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC-32 over type + data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _check_rgb(rgb: Sequence[int]) -> RGB:
    if len(rgb) != 3 or any(not 0 <= c <= 255 for c in rgb):
        raise ValueError(f"rgb must be three integers in 0..255, got {tuple(rgb)!r}")
    return (int(rgb[0]), int(rgb[1]), int(rgb[2]))


def make_png(width: int, height: int, rgb: Sequence[int], *, text: str | None = None) -> bytes:
    """Return a valid 8-bit RGB PNG of ``width`` x ``height`` pixels filled with ``rgb``.

    ``text`` (Latin-1) is stored in a ``tEXt`` chunk with keyword ``Comment``.
    """
    if width <= 0 or height <= 0:
        raise ValueError("width and height must be positive")
    colour = bytes(_check_rgb(rgb))
    # Filter type 0 (None) before every scanline.
    raw = (b"\x00" + colour * width) * height
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = [_png_chunk(b"IHDR", ihdr)]
    if text is not None:
        chunks.append(_png_chunk(b"tEXt", b"Comment\x00" + text.encode("latin-1", "replace")))
    chunks.append(_png_chunk(b"IDAT", zlib.compress(raw, 9)))
    chunks.append(_png_chunk(b"IEND", b""))
    return PNG_SIGNATURE + b"".join(chunks)


# ---------------------------------------------------------------------------------------------
# JPEG (baseline, one colour)
# ---------------------------------------------------------------------------------------------

# ITU-T T.81 Annex K.3 table K.3: the standard luminance DC Huffman table (categories 0..11).
_DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
_DC_VALUES = tuple(range(12))
# A one-symbol AC table: every block of a flat image is "DC + end-of-block", so EOB (0x00)
# is the only AC symbol ever coded; it gets the 1-bit code "0".
_AC_BITS = (1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
_AC_VALUES = (0x00,)


def _huffman_codes(bits: Sequence[int], values: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Canonical Huffman codes (T.81 Annex C): symbol -> (code, length)."""
    codes: dict[int, tuple[int, int]] = {}
    code = 0
    index = 0
    for length, count in enumerate(bits, start=1):
        for _ in range(count):
            codes[values[index]] = (code, length)
            code += 1
            index += 1
        code <<= 1
    return codes


_DC_CODES = _huffman_codes(_DC_BITS, _DC_VALUES)
_AC_CODES = _huffman_codes(_AC_BITS, _AC_VALUES)


class _BitWriter:
    """MSB-first bit writer with JPEG byte stuffing (0xFF is followed by 0x00)."""

    def __init__(self) -> None:
        self.out = bytearray()
        self._acc = 0
        self._n = 0

    def write(self, value: int, length: int) -> None:
        self._acc = (self._acc << length) | (value & ((1 << length) - 1))
        self._n += length
        while self._n >= 8:
            self._n -= 8
            byte = (self._acc >> self._n) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0x00)
        self._acc &= (1 << self._n) - 1

    def flush(self) -> bytes:
        if self._n:
            # Pad the last byte with 1-bits (T.81 F.1.2.3).
            self.write((1 << (8 - self._n)) - 1, 8 - self._n)
        return bytes(self.out)


def _segment(marker: int, payload: bytes) -> bytes:
    """A marker segment: FFxx, 2-byte big-endian length (including itself), payload."""
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _dht(table_class: int, table_id: int, bits: Sequence[int], values: Sequence[int]) -> bytes:
    return _segment(0xC4, bytes([(table_class << 4) | table_id, *bits, *values]))


def _encode_dc(writer: _BitWriter, diff: int) -> None:
    category = abs(diff).bit_length()
    code, length = _DC_CODES[category]
    writer.write(code, length)
    if category:
        writer.write(diff if diff > 0 else diff + (1 << category) - 1, category)


def make_jpeg(
    width: int = 16,
    height: int = 16,
    rgb: Sequence[int] = (240, 240, 232),
    *,
    comment: str | None = None,
) -> bytes:
    """Return a valid baseline JFIF JPEG of one colour, optionally with a ``COM`` segment.

    The image is YCbCr 4:4:4 with a quantisation table of ones, so a flat colour is encoded
    exactly (every 8x8 block is a DC coefficient plus end-of-block). ``comment`` (UTF-8) makes
    otherwise identical files distinct, e.g. by carrying a receipt id.
    """
    if not (0 < width <= 0xFFFF and 0 < height <= 0xFFFF):
        raise ValueError("width and height must be in 1..65535")
    red, green, blue = _check_rgb(rgb)
    # JFIF RGB -> YCbCr in integer arithmetic (coefficients x 1e6), rounded and clamped.
    y = (299_000 * red + 587_000 * green + 114_000 * blue + 500_000) // 1_000_000
    cb = (128_000_000 - 168_736 * red - 331_264 * green + 500_000 * blue + 500_000) // 1_000_000
    cr = (128_000_000 + 500_000 * red - 418_688 * green - 81_312 * blue + 500_000) // 1_000_000
    samples = [min(255, max(0, v)) for v in (y, cb, cr)]
    # The forward DCT of a flat 8x8 block has F(0,0) = 8 * (sample - 128); quantiser is 1.
    dc_values = [8 * (s - 128) for s in samples]

    parts = [b"\xff\xd8"]  # SOI
    parts.append(_segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))
    if comment is not None:
        encoded = comment.encode("utf-8")
        if len(encoded) > 0xFFFF - 2:
            raise ValueError("comment too long for one COM segment")
        parts.append(_segment(0xFE, encoded))
    parts.append(_segment(0xDB, b"\x00" + b"\x01" * 64))  # DQT: table 0, 8-bit, all ones
    sof = struct.pack(">BHHB", 8, height, width, 3)
    for component_id in (1, 2, 3):
        sof += bytes([component_id, 0x11, 0])  # 1x1 sampling, quantisation table 0
    parts.append(_segment(0xC0, sof))
    parts.append(_dht(0, 0, _DC_BITS, _DC_VALUES))
    parts.append(_dht(1, 0, _AC_BITS, _AC_VALUES))
    sos = bytes([3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0])  # all components use DC0/AC0
    parts.append(_segment(0xDA, sos))

    writer = _BitWriter()
    eob_code, eob_length = _AC_CODES[0x00]
    mcus = ((width + 7) // 8) * ((height + 7) // 8)
    predictors = [0, 0, 0]
    for _ in range(mcus):
        for component, dc in enumerate(dc_values):
            _encode_dc(writer, dc - predictors[component])
            predictors[component] = dc
            writer.write(eob_code, eob_length)
    parts.append(writer.flush())
    parts.append(b"\xff\xd9")  # EOI
    return b"".join(parts)
