"""Is an image file whole? Checked before SimpleITK reads it, because some readers do not say:
ITK's NIfTI reader fills a truncated ``.nii.gz`` or ``.nii`` with zeros and returns it as whole.

    check_complete(path)     # InputError with one line naming the file, or None

A compressed payload must be one complete stream (gzip / zlib end marker and checksum) holding at
least the bytes the header promises; a raw payload's file must be at least that long. NIfTI, NRRD
(``.nrrd`` / ``.nhdr``, raw, gzip or bzip2), MetaImage (``.mha`` / ``.mhd``) and DICOM instances are
checked; other formats, and the encodings named here as skipped, are left to their readers.
"""
from __future__ import annotations

import bz2
import struct
import zlib
from pathlib import Path

from ..util.errors import InputError

CHUNK = 1 << 22
HEADER_LIMIT = 1 << 16    # a text header longer than this is not one


def check_complete(path) -> None:
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        _nifti(path, name.endswith(".gz"))
    elif name.endswith((".nrrd", ".nhdr")):
        _nrrd(path)
    elif name.endswith((".mha", ".mhd")):
        _metaimage(path)
    elif _is_dicom(path):
        _dicom(path)


def _refuse(path: Path, why: str):
    raise InputError(f"{path}: cannot read image (corrupt, truncated): {why}")


def _stream_size(path: Path, offset: int, kind: str, owner: Path | None = None) -> int:
    """Bytes a compressed stream from ``offset`` on expands to; refuse a stream cut short or corrupt
    (naming ``owner``, the header file the user gave, when the data is in another file)."""
    named = f"the {kind} data" + (f" in {path.name}" if owner is not None and owner != path else "")
    total = 0
    with open(path, "rb") as f:
        f.seek(offset)
        unpack = bz2.BZ2Decompressor() if kind == "bzip2" else zlib.decompressobj(47)  # 47: gzip or zlib
        done = False
        while True:
            data = f.read(CHUNK)
            if not data:
                break
            while data:
                if done:   # a concatenated gzip member; anything else after the end is left alone
                    if kind == "bzip2" or data[:2] != b"\x1f\x8b":
                        return total
                    unpack, done = zlib.decompressobj(47), False
                try:
                    total += len(unpack.decompress(data))
                except (zlib.error, OSError, ValueError) as exc:
                    _refuse(owner or path, f"{named} is corrupt ({exc})")
                done = unpack.eof
                data = unpack.unused_data if done else b""
        if not done:
            _refuse(owner or path, f"{named} ends before its end marker (file cut short)")
    return total


def _need(path: Path, have: int, want: int, what: str) -> None:
    if have < want:
        _refuse(path, f"{what} holds {have:,} bytes, the header promises {want:,}")


# -- NIfTI -------------------------------------------------------------------------------------
def _nifti(path: Path, gz: bool) -> None:
    if gz:
        header = _gzip_head(path)
        payload = _stream_size(path, 0, "gzip")
    else:
        with open(path, "rb") as f:
            header = f.read(540)
        payload = path.stat().st_size
    offset, nbytes = _nifti_layout(path, header)
    if offset is None:
        return   # a header/image pair (.hdr + .img): the reader checks the .img
    _need(path, payload, offset + nbytes, "the image" if not gz else "the decompressed image")


def _nifti_layout(path: Path, header: bytes):
    for order in "<>":
        if len(header) >= 348 and struct.unpack(order + "i", header[:4])[0] == 348:
            dims = struct.unpack(order + "8h", header[40:56])
            bitpix = struct.unpack(order + "h", header[72:74])[0]
            offset = struct.unpack(order + "f", header[108:112])[0]
            single = header[344:347] == b"n+1"
            break
        if len(header) >= 540 and struct.unpack(order + "i", header[:4])[0] == 540:
            dims = struct.unpack(order + "8q", header[16:80])
            bitpix = struct.unpack(order + "h", header[14:16])[0]
            offset = struct.unpack(order + "q", header[168:176])[0]
            single = header[4:7] == b"n+2"
            break
    else:
        _refuse(path, "not a NIfTI header")
    if not single:
        return None, 0
    if not 1 <= dims[0] <= 7 or bitpix <= 0:
        _refuse(path, f"impossible NIfTI header (dimensions {dims[0]}, {bitpix} bits per voxel)")
    voxels = 1
    for n in dims[1:dims[0] + 1]:
        voxels *= max(int(n), 1)
    return int(offset), voxels * bitpix // 8


def _gzip_head(path: Path, n: int = 540) -> bytes:
    import gzip

    try:
        with gzip.open(path, "rb") as f:
            return f.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        _refuse(path, f"the gzip data is corrupt or cut short ({exc})")


# -- NRRD / MetaImage: text headers ------------------------------------------------------------
_SIZES = (("char", 1), ("int8", 1), ("short", 2), ("int16", 2), ("longlong", 8), ("long long", 8),
          ("int64", 8), ("float", 4), ("double", 8), ("int32", 4), ("int", 4))


def _nrrd_type_size(name: str) -> int | None:
    name = name.strip().lower()
    return next((size for key, size in _SIZES if key in name), None)


def _text_header(path: Path, stop, detached_ok: bool = False) -> tuple[list[str], int]:
    """Header lines up to and including the one ``stop`` accepts, and the byte offset after it. A
    header file of its own (``detached_ok``: .nhdr) may simply end; the last line needs no newline."""
    with open(path, "rb") as f:
        raw = f.read(HEADER_LIMIT)
    lines, offset = [], 0
    while True:
        end = raw.find(b"\n", offset)
        at_eof = end < 0 and len(raw) < HEADER_LIMIT
        if end < 0 and not at_eof:
            _refuse(path, "the header ends before the data starts")
        end = len(raw) if at_eof else end
        line = raw[offset:end].decode("latin-1").rstrip("\r")
        offset = end + 1 if not at_eof else end
        lines.append(line)
        if stop(line) or (at_eof and detached_ok):
            return lines, offset
        if at_eof:
            _refuse(path, "the header ends before the data starts")


def _nrrd(path: Path) -> None:
    with open(path, "rb") as f:
        if not f.read(4) == b"NRRD":
            _refuse(path, "no NRRD magic at the start")
    lines, offset = _text_header(path, lambda line: line == "", detached_ok=path.suffix.lower() == ".nhdr")
    fields = {}
    for line in lines[1:]:
        if ":" in line and not line.startswith("#") and ":=" not in line:
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
    size = _nrrd_type_size(fields.get("type", ""))
    encoding = fields.get("encoding", "raw").lower()
    encoding = {"gz": "gzip", "bz2": "bzip2"}.get(encoding, encoding)
    if size is None or encoding not in ("raw", "gzip", "bzip2") or "sizes" not in fields:
        return   # block types, text encodings: the reader's to check
    voxels = 1
    for n in fields["sizes"].split():
        voxels *= int(n)
    want = voxels * size
    skip = int(fields.get("byte skip", fields.get("byteskip", "0")) or 0)
    data = fields.get("data file", fields.get("datafile"))
    if data:
        if data.split()[0].upper() == "LIST" or "%" in data or len(data.split()) > 1:
            return   # one file per slice: the reader checks them
        target, offset = path.parent / data, 0
        if not target.is_file():
            _refuse(path, f"its data file {data} is missing")
    else:
        target = path
    if int(fields.get("line skip", fields.get("lineskip", "0")) or 0) or skip < 0:
        return   # data found by skipping lines or from the end: the reader's to place
    if encoding == "raw":
        _need(path, target.stat().st_size - offset, want + skip, "the data")
    else:
        _need(path, _stream_size(target, offset, encoding, path), want + skip, f"the decompressed {encoding} data")


_MET_SIZES = {"MET_CHAR": 1, "MET_UCHAR": 1, "MET_SHORT": 2, "MET_USHORT": 2, "MET_INT": 4, "MET_UINT": 4,
              "MET_LONG": 4, "MET_ULONG": 4, "MET_LONG_LONG": 8, "MET_ULONG_LONG": 8, "MET_FLOAT": 4,
              "MET_DOUBLE": 8}


def _metaimage(path: Path) -> None:
    lines, offset = _text_header(path, lambda line: line.split("=")[0].strip() == "ElementDataFile")
    fields = {k.strip(): v.strip() for k, v in (line.split("=", 1) for line in lines if "=" in line)}
    size = _MET_SIZES.get(fields.get("ElementType", ""))
    if size is None or fields.get("BinaryData", "True").lower() == "false" or "DimSize" not in fields:
        return
    voxels = int(fields.get("ElementNumberOfChannels", "1"))
    for n in fields["DimSize"].split():
        voxels *= int(n)
    want = voxels * size
    data = fields.get("ElementDataFile", "")
    if data.upper() == "LOCAL":
        target = path
    elif data.upper().startswith("LIST") or "%" in data or len(data.split()) > 1:
        return
    else:
        target, offset = path.parent / data, 0
        if not target.is_file():
            _refuse(path, f"its data file {data} is missing")
    header_size = int(fields.get("HeaderSize", "0"))
    if header_size < 0:
        return   # data at the end of the file: nothing to measure against
    offset += header_size
    if fields.get("CompressedData", "False").lower() == "true":
        _need(path, _stream_size(target, offset, "zlib", path), want, "the decompressed data")
    else:
        _need(path, target.stat().st_size - offset, want, f"the data in {target.name}")


# -- DICOM -------------------------------------------------------------------------------------
def _is_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(132)[128:] == b"DICM"
    except OSError:
        return False


def _dicom(path: Path) -> None:
    """Uncompressed pixel data must hold rows × columns × frames × samples × bytes; encapsulated
    (compressed) pixel data must end with its sequence delimiter, a JPEG codestream with its end marker."""
    import warnings

    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # pydicom warns about a cut file; the check below says it
            head = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    except Exception as exc:  # noqa: BLE001  pydicom raises many kinds on a cut file
        _refuse(path, f"DICOM header unreadable ({type(exc).__name__})")
    if "Rows" not in head or "Columns" not in head:
        return   # not an image (a report, a structure set), or cut inside the header: the series check says
    syntax = getattr(head, "file_meta", {}).get("TransferSyntaxUID")
    if syntax is not None and syntax.is_encapsulated:
        _encapsulated(path, str(syntax))
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = pydicom.dcmread(path, force=True).get("PixelData")
    except Exception as exc:  # noqa: BLE001
        _refuse(path, f"DICOM pixel data unreadable ({type(exc).__name__})")
    if pixels is None:
        _refuse(path, "the DICOM image has no pixel data (cut short)")
    want = int(head.Rows) * int(head.Columns) * int(head.get("NumberOfFrames", 1) or 1) \
        * int(head.get("SamplesPerPixel", 1) or 1) * int(head.get("BitsAllocated", 16) or 16) // 8
    _need(path, len(pixels), want, "the DICOM pixel data")


DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"   # (FFFE,E0DD), length 0: the end of encapsulated pixel data
JPEG_FAMILY = "1.2.840.10008.1.2.4."                # JPEG, JPEG-LS, JPEG 2000, HTJ2K: codestreams end FF D9


def _encapsulated(path: Path, syntax: str) -> None:
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(max(0, size - 256))
        tail = f.read()
    at = tail.rfind(DELIMITER)
    if at >= 0:
        last = tail[:at]   # ends with the last fragment
    elif any(tail.endswith(DELIMITER[:k]) for k in range(4, 8)):
        _refuse(path, "the DICOM instance ends inside its pixel data's delimiter (cut short)")
    else:
        last = _last_fragment(path)   # elements after the pixel data (padding, a signature), or cut inside it
    if syntax.startswith(JPEG_FAMILY) and not (last.endswith(b"\xff\xd9") or last.endswith(b"\xff\xd9\x00")):
        _refuse(path, "the DICOM instance's last compressed frame has no end marker (cut short or corrupt)")


def _last_fragment(path: Path) -> bytes:
    import warnings

    import pydicom

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            value = pydicom.dcmread(path, force=True).get("PixelData")
        except Exception as exc:  # noqa: BLE001
            _refuse(path, f"DICOM pixel data unreadable ({type(exc).__name__})")
    told = " ".join(str(w.message).lower() for w in seen)
    if value is None or "delimiter" in told or "end of file" in told:
        _refuse(path, "the DICOM instance's compressed pixel data has no end (cut short)")
    try:
        from pydicom.encaps import generate_fragments

        fragments = list(generate_fragments(value))
    except Exception:  # noqa: BLE001  an older pydicom, or items that do not parse
        _refuse(path, "the DICOM instance's compressed pixel data does not parse (cut short or corrupt)")
    return fragments[-1] if fragments else b""
