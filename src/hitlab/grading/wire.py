"""What crosses between the judge and a submission's evaluator (see :mod:`hitlab.grading.judge`): values as
JSON with tags, never as pickles, so that nothing a submission sends can run code where it is decoded.

Data travels by value: ``None``, booleans, numbers, text, bytes, lists, tuples, dicts, sets, dates and
times, ``Decimal``, UUIDs, exceptions (by their class's ancestry and message), numpy scalars and arrays and
pandas objects (``DataFrame``, ``Series``, ``Timestamp``...). Anything else (a function, a class, an object
of the learner's) travels as a reference: its owner keeps it, the other side gets a proxy whose calls and
attributes go back to the owner (:mod:`hitlab.grading.remote`). A message is a 4-byte length and the JSON.
"""

from __future__ import annotations

import base64
import builtins
import datetime as dt
import importlib
import json
import math
import socket
import struct
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

MAX_MESSAGE = 256 << 20  # bytes: a larger message is refused (a submission may try to flood the judge)
MAX_DEPTH = 200  # nesting of a value: deeper is refused, before Python's recursion limit is reached


class WireError(Exception):
    """The other side sent something that is not a well-formed message (or went away)."""


# -- framing ------------------------------------------------------------------------------------------------


def send(sock: socket.socket, message: dict) -> None:
    data = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
    if len(data) > MAX_MESSAGE:
        raise WireError(f"a message of {len(data):,} bytes is larger than the limit ({MAX_MESSAGE:,})")
    sock.sendall(struct.pack(">I", len(data)) + data)


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise WireError("the other side closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket) -> dict:
    (size,) = struct.unpack(">I", _exactly(sock, 4))
    if size > MAX_MESSAGE:
        raise WireError(f"a message of {size:,} bytes announced, more than the limit ({MAX_MESSAGE:,})")
    try:
        message = json.loads(_exactly(sock, size))
    except (ValueError, RecursionError) as err:
        raise WireError(f"not a JSON message: {err}") from None
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        raise WireError("a message without an operation")
    return message


# -- values -------------------------------------------------------------------------------------------------

# Exceptions are rebuilt as the nearest class of their ancestry that one of these modules defines (a
# learner's ``class BadMessage(ValueError)`` arrives as a subclass of ``ValueError`` named BadMessage).
EXCEPTION_MODULES = (
    "builtins", "hitlab.", "ssl", "socket", "json", "csv", "sqlite3", "zoneinfo", "decimal", "binascii", "zlib",
    "struct", "http.", "urllib.", "email.", "xml.", "jwt.", "cryptography.", "argon2.", "duckdb", "pydantic",
    "fhir.", "hl7apy.", "pandas.errors", "numpy.", "sklearn.exceptions", "requests.", "psycopg.",
)  # fmt: skip
# dtypes a DataFrame column or an array may be rebuilt with
DTYPES = {
    "bool", "boolean", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "Int8", "Int16",
    "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "float16", "float32", "float64", "Float32",
    "Float64", "object", "string", "str", "category", "datetime64[ns]", "datetime64[us]", "datetime64[ms]",
    "datetime64[s]", "timedelta64[ns]", "timedelta64[us]", "timedelta64[ms]", "timedelta64[s]", "complex128",
}  # fmt: skip


class Codec:
    """Encodes and decodes values for one side. ``export(obj)`` registers an object that must stay here and
    returns its reference id; ``proxy(ref)`` makes the local stand-in for the other side's object
    ``ref`` (a dict with its id and what it is); ``local(id)`` is this side's object that the other side
    sends back."""

    def __init__(
        self, export: Callable[[Any], int], proxy: Callable[[dict], Any], local: Callable[[int], Any]
    ) -> None:
        self.export, self.proxy, self.local = export, proxy, local

    # encoding
    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError("a value nested too deeply")
        d = depth + 1
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int) and type(value) in (int,):
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"$float": repr(value)}
        if type(value) in (list, tuple, set, frozenset):
            tag = {list: "$list", tuple: "$tuple", set: "$set", frozenset: "$frozenset"}[type(value)]
            return {tag: [self.encode(v, d) for v in value]}
        if type(value) is dict:
            return {"$dict": [[self.encode(k, d), self.encode(v, d)] for k, v in value.items()]}
        if type(value) in (bytes, bytearray):
            return {"$bytes": base64.b64encode(value).decode(), "mutable": type(value) is bytearray}
        known = _encode_known(self, value, d)
        if known is not None:
            return known
        owner = getattr(value, "_hitlab_remote", None)
        if owner is not None and owner[0] is self:  # a proxy of the other side's object: send it home
            return {"$yours": owner[1]}
        return {"$ref": self.export(value), **describe_object(value)}

    # decoding
    def decode(self, data: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError("a value nested too deeply")
        d = depth + 1
        if data is None or isinstance(data, bool | int | float | str):
            return data
        if isinstance(data, list):  # only inside tags
            return [self.decode(v, d) for v in data]
        if not isinstance(data, dict) or len(data) == 0:
            raise WireError(f"not a value: {str(data)[:80]}")
        tag = next(iter(data))
        body = data[tag]
        try:
            decoder = _DECODERS[tag]
        except KeyError:
            raise WireError(f"unknown value tag {str(tag)[:40]!r}") from None
        try:
            return decoder(self, body, data, d)
        except WireError:
            raise
        except Exception as err:  # a malformed body: any error while rebuilding it
            raise WireError(f"a malformed {tag} value: {type(err).__name__}: {err}") from None


def describe_object(value: Any) -> dict:
    """What a reference stands for: ``kind`` (class, callable, object), and its type's module and name."""
    kind = "class" if isinstance(value, type) else "callable" if callable(value) else "object"
    cls = value if isinstance(value, type) else type(value)
    return {
        "kind": kind,
        "module": str(getattr(cls, "__module__", "") or ""),
        "type": str(getattr(cls, "__qualname__", "") or ""),
        "name": str(getattr(value, "__name__", "") or "") if kind != "object" else "",
    }


def _encode_known(codec: Codec, value: Any, d: int) -> Any:
    """Dates, decimals, exceptions, numpy and pandas values; None for anything else."""
    if isinstance(value, BaseException):
        return {"$exception": exception_data(value)}
    kind = type(value)
    if kind is dt.datetime:
        return {"$datetime": value.isoformat()}
    if kind is dt.date:
        return {"$date": value.isoformat()}
    if kind is dt.time:
        return {"$time": value.isoformat()}
    if kind is dt.timedelta:
        return {"$timedelta": [value.days, value.seconds, value.microseconds]}
    if kind is Decimal:
        return {"$decimal": str(value)}
    if kind is uuid.UUID:
        return {"$uuid": str(value)}
    module = kind.__module__.split(".", 1)[0]
    if module == "matplotlib":
        return _encode_figure(codec, value, d)
    if module == "numpy":
        return _encode_numpy(codec, value, d)
    if module == "pandas":
        return _encode_pandas(codec, value, d)
    return None


def _encode_numpy(codec: Codec, value: Any, d: int) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        if isinstance(value, np.datetime64 | np.timedelta64):
            return {"$np64": [str(value.dtype), int(value.astype("int64"))]}
        return {"$npscalar": [str(value.dtype), codec.encode(value.item(), d)]}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufcUSMmO":
        items = value.astype("int64").tolist() if value.dtype.kind in "Mm" else value.tolist()
        if value.dtype.kind == "O":
            items = [codec.encode(v, d) for v in value.ravel().tolist()]
        return {"$ndarray": [str(value.dtype), list(value.shape), codec.encode(items, d)]}
    return None


def _encode_index(codec: Codec, index: Any, d: int) -> Any:
    import pandas as pd

    if isinstance(index, pd.RangeIndex):
        return {"$range": [index.start, index.stop, index.step, codec.encode(index.name, d)]}
    if isinstance(index, pd.MultiIndex):
        return {"$multi": [codec.encode(list(index), d), codec.encode(list(index.names), d)]}
    return {"$index": [str(index.dtype), codec.encode(_values(index), d), codec.encode(index.name, d)]}


def _values(column: Any) -> list:
    """A column's or index's values as Python objects (NaT and NaN as themselves)."""
    return [
        v.to_pydatetime() if hasattr(v, "to_pydatetime") and not _isnat(v) else v for v in column.tolist()
    ]


def _isnat(v: Any) -> bool:
    import pandas as pd

    return v is pd.NaT


def _encode_pandas(codec: Codec, value: Any, d: int) -> Any:
    import pandas as pd

    if value is pd.NaT:
        return {"$nat": 0}
    if isinstance(value, pd.Timestamp):
        return {"$timestamp": value.isoformat()}
    if isinstance(value, pd.Timedelta):
        return {"$pdtimedelta": int(value.value)}
    if value is pd.NA:
        return {"$na": 0}
    if isinstance(value, pd.DataFrame):
        columns = [_encode_column(codec, value.iloc[:, i], d) for i in range(value.shape[1])]
        return {
            "$frame": [codec.encode(list(value.columns), d), _encode_index(codec, value.index, d), columns]
        }
    if isinstance(value, pd.Series):
        column = _encode_column(codec, value, d)
        return {"$series": [*column, _encode_index(codec, value.index, d), codec.encode(value.name, d)]}
    if isinstance(value, pd.Index):
        return _encode_index(codec, value, d)
    return None


def _encode_figure(codec: Codec, fig: Any, d: int) -> Any:
    """A matplotlib Figure as what its charts show (drawn first, so tick labels exist): per Axes its
    visibility, title, labels, limits, ticks, lines, rectangles (bars) and point collections. The other side
    draws a Figure of its own from it (:func:`_figure`): a Figure's own pickle could run code."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    if not isinstance(fig, Figure):
        return None
    FigureCanvasAgg(fig).draw()
    axes = []
    for ax in fig.axes:
        axes.append({
            "visible": bool(ax.get_visible()), "title": ax.get_title(), "xlabel": ax.get_xlabel(),
            "ylabel": ax.get_ylabel(), "xlim": [float(v) for v in ax.get_xlim()],
            "ylim": [float(v) for v in ax.get_ylim()],
            "xticks": [float(v) for v in ax.get_xticks()], "xticklabels": [t.get_text() for t in ax.get_xticklabels()],
            "yticks": [float(v) for v in ax.get_yticks()], "yticklabels": [t.get_text() for t in ax.get_yticklabels()],
            "lines": [[codec.encode(ln.get_xdata(), d), codec.encode(ln.get_ydata(), d), str(ln.get_label()),
                       bool(ln.get_visible())] for ln in ax.lines],
            "bars": [[float(p.get_x()), float(p.get_y()), float(p.get_width()), float(p.get_height()),
                      str(p.get_label()), bool(p.get_visible())] for p in ax.patches if isinstance(p, Rectangle)],
            "points": [codec.encode(c.get_offsets().tolist(), d) for c in ax.collections],
        })  # fmt: skip
    suptitle = fig._suptitle.get_text() if fig._suptitle is not None else None
    return {
        "$figure": {"axes": axes, "suptitle": suptitle, "size": [float(v) for v in fig.get_size_inches()]}
    }


def _figure(codec: Codec, body: dict, _data, d: int) -> Any:
    """A Figure drawn from what :func:`_encode_figure` captured."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    width, height = (float(v) for v in body["size"])
    fig = Figure(figsize=(min(max(width, 1), 50), min(max(height, 1), 50)))
    described = body["axes"]
    if len(described) > 100:
        raise WireError("a figure with more than 100 charts")
    for i, a in enumerate(described):
        ax = fig.add_subplot(len(described), 1, i + 1)
        for x, y, label, visible in a["lines"]:
            (line,) = ax.plot(codec.decode(x, d), codec.decode(y, d), label=str(label))
            line.set_visible(bool(visible))
        for x, y, w, h, label, visible in a["bars"]:
            ax.add_patch(
                Rectangle((float(x), float(y)), float(w), float(h), label=str(label), visible=bool(visible))
            )
        for offsets in a["points"]:
            points = codec.decode(offsets, d)
            ax.scatter([p[0] for p in points], [p[1] for p in points])
        ax.set_title(str(a["title"]))
        ax.set_xlabel(str(a["xlabel"]))
        ax.set_ylabel(str(a["ylabel"]))
        ax.set_xticks([float(v) for v in a["xticks"]], [str(t) for t in a["xticklabels"]])
        ax.set_yticks([float(v) for v in a["yticks"]], [str(t) for t in a["yticklabels"]])
        ax.set_xlim(*(float(v) for v in a["xlim"]))
        ax.set_ylim(*(float(v) for v in a["ylim"]))
        ax.set_visible(bool(a["visible"]))
    if body.get("suptitle") is not None:
        fig.suptitle(str(body["suptitle"]))
    return fig


def _encode_column(codec: Codec, column: Any, d: int) -> list:
    """A column as ``[dtype, payload]``: numbers, booleans, dates and durations as their raw bytes, text as a
    list of strings, anything else value by value (a 100,000-row table crosses in well under a second)."""
    import numpy as np

    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biufcmM":
        raw = column.to_numpy()
        raw = raw.view("int64") if dtype.kind in "mM" else raw
        return [str(dtype), {"raw": base64.b64encode(np.ascontiguousarray(raw).tobytes()).decode()}]
    values = column.tolist()
    if all(type(v) is str or v is None or (type(v) is float and v != v) for v in values):
        gap = next((v for v in values if type(v) is not str), None)
        return [str(dtype), {"text": [v if type(v) is str else None for v in values], "nan": gap is not None}]
    return [str(dtype), {"values": codec.encode(_values(column), d)}]


def _decode_column(codec: Codec, dtype: str, payload: dict, d: int):
    import numpy as np
    import pandas as pd

    dtype = _check_dtype(str(dtype))
    if "raw" in payload:
        kind = np.dtype(dtype)
        if kind.kind not in "biufcmM":
            raise WireError(f"raw bytes for a column of {dtype}")
        raw = base64.b64decode(payload["raw"], validate=True)
        values = np.frombuffer(raw, dtype="int64" if kind.kind in "mM" else kind).copy()
        return pd.Series(values.view(kind) if kind.kind in "mM" else values, dtype=kind)
    if "text" in payload:
        gap = float("nan") if payload.get("nan") else None
        return _column(dtype, [v if isinstance(v, str) else gap for v in payload["text"]])
    return _column(dtype, codec.decode(payload["values"], d))


def exception_data(err: BaseException) -> dict:
    """An exception as data: its class's ancestry, message and (for a learner's code) traceback text."""
    mro = [[c.__module__, c.__qualname__] for c in type(err).__mro__ if issubclass(c, BaseException)]
    try:
        message = str(err)
    except Exception:  # a learner's __str__ that fails
        message = f"<{type(err).__name__}>"
    return {
        "mro": mro,
        "message": message[:20000],
        "traceback": str(getattr(err, "_hitlab_traceback", ""))[:20000],
    }


def rebuild_exception(data: dict) -> BaseException:
    """The exception ``data`` describes, as the nearest class of its ancestry from a known module (a subclass
    of it named as the original, when the original's class is not that one)."""
    mro = [(str(m), str(n)) for m, n in data["mro"]]
    base: type[BaseException] = Exception
    for module, name in mro:
        if not module.startswith(EXCEPTION_MODULES) or module.startswith("hitlab.grading"):
            continue
        try:
            found = builtins if module == "builtins" else importlib.import_module(module)
            for part in name.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):
            continue
        if isinstance(found, type) and issubclass(found, BaseException) and found not in (SystemExit,):
            base = found
            break
    if base is BaseException or issubclass(base, (KeyboardInterrupt, GeneratorExit)):
        base = Exception
    original = mro[0][1].rsplit(".", 1)[-1] if mro else "Exception"
    cls = base if original == base.__name__ else type(original, (base,), {"__module__": mro[0][0]})
    try:
        err = cls.__new__(cls)
    except Exception:  # a class that insists on its own arguments: the nearest plain kind
        cls = type(original, (Exception,), {"__module__": mro[0][0]})
        err = cls.__new__(cls)
    err.args = (str(data.get("message", "")),)
    err._hitlab_traceback = str(data.get("traceback", ""))  # type: ignore[attr-defined]
    return err


def _seq(kind):
    return lambda codec, body, _data, d: kind(codec.decode(v, d) for v in body)


def _dict(codec: Codec, body: list, _data: dict, d: int) -> dict:
    return {codec.decode(k, d): codec.decode(v, d) for k, v in body}


def _float(_codec, body: str, _data, _d) -> float:
    if body not in ("nan", "inf", "-inf"):
        raise WireError(f"not a float: {body[:20]!r}")
    return float(body)


def _bytes(_codec, body: str, data: dict, _d):
    value = base64.b64decode(body, validate=True)
    return bytearray(value) if data.get("mutable") else value


def _check_dtype(dtype: str) -> str:
    if dtype not in DTYPES and not dtype.startswith(
        ("datetime64[ns, ", "datetime64[us, ", "<U", "|S", "<M8")
    ):
        raise WireError(f"a dtype this side does not rebuild: {dtype[:40]!r}")
    return dtype


def _npscalar(codec, body, _data, d):
    import numpy as np

    dtype, value = body
    return np.array(codec.decode(value, d), dtype=_check_dtype(str(dtype)))[()]


def _np64(_codec, body, _data, _d):
    import numpy as np

    dtype, value = body
    return np.array(int(value), dtype="int64").astype(_check_dtype(str(dtype)))[()]


def _ndarray(codec, body, _data, d):
    import numpy as np

    dtype, shape, items = body
    dtype = _check_dtype(str(dtype))
    values = codec.decode(items, d)
    if dtype == "object":
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array.reshape([int(s) for s in shape])
    if (dtype[0] in "<|" and dtype[1] in "Mm") or dtype.startswith(("datetime64", "timedelta64")):
        return np.array(values, dtype="int64").astype(dtype).reshape([int(s) for s in shape])
    return np.array(values, dtype=dtype).reshape([int(s) for s in shape])


def _column(dtype: str, values: list):
    import pandas as pd

    dtype = _check_dtype(dtype)
    if dtype == "category":
        return pd.Series(values, dtype="object").astype("category")
    if dtype in ("str", "string"):
        return pd.Series(values, dtype=dtype)
    if dtype.startswith("datetime64"):
        return pd.Series(pd.to_datetime(values, utc="," in dtype)).astype(dtype)
    return pd.Series(values, dtype=dtype if dtype != "str" else object)


def _decode_index(codec, body, d):
    import pandas as pd

    if not isinstance(body, dict) or len(body) != 1:
        raise WireError("a malformed index")
    tag, value = next(iter(body.items()))
    if tag == "$range":
        start, stop, step, name = value
        return pd.RangeIndex(int(start), int(stop), int(step), name=codec.decode(name, d))
    if tag == "$multi":
        tuples, names = value
        return pd.MultiIndex.from_tuples(codec.decode(tuples, d), names=codec.decode(names, d))
    if tag == "$index":
        dtype, values, name = value
        return pd.Index(_column(str(dtype), codec.decode(values, d)), name=codec.decode(name, d))
    raise WireError(f"unknown index tag {str(tag)[:40]!r}")


def _frame(codec, body, _data, d):
    import pandas as pd

    names, index, columns = body
    names = codec.decode(names, d)
    if len(names) != len(columns):
        raise WireError("a frame whose column names and columns differ in number")
    index = _decode_index(codec, index, d)
    frame = pd.DataFrame(
        {
            i: _decode_column(codec, dtype, payload, d).set_axis(index)
            for i, (dtype, payload) in enumerate(columns)
        },
        index=index,
    )
    frame.columns = (
        pd.MultiIndex.from_tuples(names)
        if names and all(isinstance(n, tuple) for n in names)
        else pd.Index(names)
    )
    return frame


def _series(codec, body, _data, d):
    dtype, payload, index, name = body
    column = _decode_column(codec, dtype, payload, d)
    return column.set_axis(_decode_index(codec, index, d)).rename(codec.decode(name, d))


def _pandas_scalar(kind: str):
    def decode(_codec, body, _data, _d):
        import pandas as pd

        if kind == "nat":
            return pd.NaT
        if kind == "na":
            return pd.NA
        if kind == "timestamp":
            return pd.Timestamp(str(body))
        return pd.Timedelta(int(body), unit="ns")

    return decode


_DECODERS: dict[str, Callable] = {
    "$float": _float,
    "$list": _seq(list),
    "$tuple": _seq(tuple),
    "$set": _seq(set),
    "$frozenset": _seq(frozenset),
    "$dict": _dict,
    "$bytes": _bytes,
    "$datetime": lambda _c, b, _d, _x: dt.datetime.fromisoformat(str(b)),
    "$date": lambda _c, b, _d, _x: dt.date.fromisoformat(str(b)),
    "$time": lambda _c, b, _d, _x: dt.time.fromisoformat(str(b)),
    "$timedelta": lambda _c, b, _d, _x: dt.timedelta(
        days=int(b[0]), seconds=int(b[1]), microseconds=int(b[2])
    ),
    "$decimal": lambda _c, b, _d, _x: Decimal(str(b)),
    "$uuid": lambda _c, b, _d, _x: uuid.UUID(str(b)),
    "$exception": lambda _c, b, _d, _x: rebuild_exception(b),
    "$npscalar": _npscalar,
    "$np64": _np64,
    "$ndarray": _ndarray,
    "$nat": _pandas_scalar("nat"),
    "$na": _pandas_scalar("na"),
    "$timestamp": _pandas_scalar("timestamp"),
    "$pdtimedelta": _pandas_scalar("timedelta"),
    "$frame": _frame,
    "$series": _series,
    "$range": lambda c, b, data, d: _decode_index(c, data, d),
    "$multi": lambda c, b, data, d: _decode_index(c, data, d),
    "$index": lambda c, b, data, d: _decode_index(c, data, d),
    "$figure": _figure,
    "$ref": lambda c, b, data, _d: c.proxy(data),
    "$yours": lambda c, b, _data, _d: c.local(int(b)),
}
