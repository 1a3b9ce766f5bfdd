"""Two processes using each other's objects over one socket: the judge holds the genuine checks, the
evaluator the learner's answers (:mod:`hitlab.grading.judge`).

A :class:`Peer` sends a request and, until its reply comes, serves the other side's requests (a learner's
consumer calling back into the judge's notification sink). Values cross as data (:mod:`hitlab.grading.wire`);
everything else stays with its owner and the other side gets a proxy: calling it, reading its attributes or
using ``len``, ``[]``, ``in``, iteration or ``==`` asks the owner. A proxy of a class is a class (the checks
ask ``inspect.isclass``), and a proxy reports the class of its object where this side can import that class
from a known library (``isinstance(figure, Figure)`` holds), while its behaviour still comes from the owner.

A call carries how long the caller will wait (the time left on its alarm, see
:func:`hitlab.checks.limits.time_limit`): the owner stops the call a little sooner, so the two sides stay
in step; a side that does not answer in time is given up (:class:`PeerGone`) and every later request fails.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import signal
import socket
import traceback
from collections.abc import Callable
from typing import Any

from hitlab.grading.wire import Codec, WireError, describe_object, exception_data, receive, send

# classes a proxy may report as its own, so that the checks' isinstance tests see what they expect
IMPERSONATED_MODULES = ("matplotlib.", "sklearn.", "pandas", "numpy", "hitlab.checks.", "duckdb", "sqlite3")
METHODS = ("__len__", "__getitem__", "__setitem__", "__delitem__", "__contains__", "__eq__", "__ne__",
           "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__str__", "__repr__", "__hash__", "__iter__",
           "__next__", "__enter__", "__exit__")  # fmt: skip
MARGIN = 0.5  # seconds: the owner stops a call this much before the caller's alarm


class PeerGone(Exception):
    """The other side stopped answering or sent something malformed: nothing more is asked of it."""


class RemoteStopped(Exception):
    """The owner stopped a call that ran past the time the caller would wait."""


class Peer:
    def __init__(self, sock: socket.socket, *, on_stopped: type[BaseException] | None = None) -> None:
        self.sock = sock
        self.objects: dict[int, Any] = {}  # what this side exported: id -> object
        self.ids: dict[int, int] = {}  # id(object) -> its export id
        self.counter = itertools.count(1)
        self.codec = Codec(self._export, self._proxy, self._local)
        self.gone: str | None = None
        self.on_stopped = on_stopped  # the exception a call stopped by the owner raises here

    # -- objects ----------------------------------------------------------------------------------------------
    def _export(self, obj: Any) -> int:
        key = self.ids.get(id(obj))
        if key is not None and self.objects.get(key) is obj:
            return key
        key = next(self.counter)
        self.objects[key] = obj
        self.ids[id(obj)] = key
        return key

    def _local(self, key: int) -> Any:
        try:
            return self.objects[key]
        except KeyError:
            raise WireError(f"no object {key} on this side") from None

    def _proxy(self, ref: dict) -> Any:
        key = ref.get("$ref")
        if not isinstance(key, int):
            raise WireError("a reference without an id")
        described = {k: str(ref.get(k, "")) for k in ("kind", "module", "type", "name")}
        if described["kind"] == "class":
            return _remote_class(self, key, described)
        return RemoteObject(self, key, described)

    # -- requests ---------------------------------------------------------------------------------------------
    def request(self, op: str, _after: Callable[[dict], None] | None = None, **fields: Any) -> Any:
        """Send a request and serve the other side's until its reply; returns the reply's value or raises
        the exception it carries (``_after`` first receives what a call left in its mutable arguments)."""
        if self.gone:
            raise PeerGone(self.gone)
        try:
            send(self.sock, {"op": op, **fields})
            while True:
                message = receive(self.sock)
                if message["op"] == "reply":
                    break
                self.serve(message)
        except (WireError, OSError) as err:
            self.gone = f"the other side failed: {err}"
            raise PeerGone(self.gone) from None
        except BaseException:  # an alarm (the caller's time limit) while waiting: out of step for good
            self.gone = "the other side did not answer in time"
            raise
        try:
            if _after:
                after = message.get("after") or {}
                if not isinstance(after, dict):
                    raise WireError("a malformed reply")
                _after({str(k): self.codec.decode(v) for k, v in after.items()})
            return self._outcome(message)
        except WireError as err:
            self.gone = f"the other side sent a malformed value: {err}"
            raise PeerGone(self.gone) from None

    def _outcome(self, message: dict) -> Any:
        if "raised" in message:
            err = self.codec.decode(message["raised"])
            if message.get("stopped") and self.on_stopped is not None:
                raise self.on_stopped(float(message.get("seconds", 0)))
            raise err
        return self.codec.decode(message.get("value"))

    def call(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the other side's ``target``; what the call did to a list, dict, set or bytearray argument
        (an audit log it appends to) is done to the caller's too."""
        wait = signal.getitimer(signal.ITIMER_REAL)[0]

        def refill(after: dict) -> None:
            for key, new in after.items():
                mine = args[int(key)] if key.isdigit() and int(key) < len(args) else kwargs.get(key)
                if type(mine) in MUTABLE:
                    _refill(mine, new)

        return self.request(
            "call", target=self.codec.encode(target), args=self.codec.encode(list(args)),
            kwargs=self.codec.encode(kwargs), within=max(wait - MARGIN, 0.1) if wait else 0, _after=refill,
        )  # fmt: skip

    # -- serving ----------------------------------------------------------------------------------------------
    def serve(self, message: dict) -> None:
        """Answer one request of the other side's."""
        op = message["op"]
        try:
            if op == "call":
                target = self.codec.decode(message.get("target"))
                args = self.codec.decode(message.get("args"))
                kwargs = self.codec.decode(message.get("kwargs"))
                if not isinstance(args, list) or not isinstance(kwargs, dict):
                    raise WireError("a call without arguments")
                try:
                    value = self._run(target, args, kwargs, float(message.get("within") or 0))
                    reply = {"op": "reply", "value": self.codec.encode(value)}
                except BaseException as err:  # what the call did to its arguments counts all the same
                    reply = self._raised(self._passed_on(err))
                reply["after"] = {i: self.codec.encode(a) for i, a in enumerate(args) if type(a) in MUTABLE}
                reply["after"].update(
                    {k: self.codec.encode(a) for k, a in kwargs.items() if type(a) in MUTABLE}
                )
                send(self.sock, reply)
                return
            elif op == "getattr":
                value = getattr(self.codec.decode(message.get("target")), str(message.get("name")))
            elif op == "signature":
                value = _signature(self.codec.decode(message.get("target")))
            else:
                value = self.handle(op, message)
            reply = {"op": "reply", "value": self.codec.encode(value)}
        except WireError:
            raise
        except _Stopped as stopped:
            reply = {"op": "reply", "raised": self.codec.encode(TimeoutError()), "stopped": True,
                     "seconds": stopped.seconds}  # fmt: skip
        except BaseException as err:
            reply = self._raised(self._passed_on(err))
        send(self.sock, reply)

    def _passed_on(self, err: BaseException) -> BaseException:
        """``err`` if it goes back to the caller (a ``BaseException`` such as a harness's simulated crash
        included); an interruption of this side's own (its time limit, Ctrl-C) is raised here instead."""
        if isinstance(err, _Stopped | KeyboardInterrupt) or (
            self.on_stopped and isinstance(err, self.on_stopped)
        ):
            raise err
        return err

    def _raised(self, err: BaseException) -> dict:
        err._hitlab_traceback = "".join(traceback.format_exception(err)[1:])  # type: ignore[attr-defined]
        return {"op": "reply", "raised": {"$exception": exception_data(err)}}

    def handle(self, op: str, message: dict) -> Any:
        """Further operations of a side (the evaluator's ``get``); unknown ones are refused."""
        raise WireError(f"unknown operation {op[:40]!r}")

    def _run(self, target: Any, args: list, kwargs: dict, within: float) -> Any:
        if not callable(target):
            raise TypeError(f"'{type(target).__name__}' object is not callable")
        if not within:
            return target(*args, **kwargs)
        previous = signal.signal(signal.SIGALRM, _stop)
        signal.setitimer(signal.ITIMER_REAL, within)
        try:
            return target(*args, **kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


MUTABLE = (list, dict, set, bytearray)


def _refill(mine: Any, new: Any) -> None:
    """Make ``mine`` hold what ``new`` holds (same kind), in place."""
    if type(new) is not type(mine):
        raise WireError("a mutable argument came back as another kind")
    if isinstance(mine, list | bytearray):
        mine[:] = new
    else:
        mine.clear()
        mine.update(new)


class _Stopped(BaseException):
    def __init__(self, seconds: float = 0.0) -> None:
        super().__init__(seconds)
        self.seconds = seconds


def _stop(_signum, _frame):
    raise _Stopped()


def _signature(target: Any) -> list:
    """``target``'s parameters as data: (name, kind, has a default)."""
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return []
    return [(p.name, int(p.kind), p.default is not inspect.Parameter.empty) for p in parameters]


def _impersonated(described: dict) -> type | None:
    """The class a proxy's object has, if this side may import it from a known library."""
    module, name = described["module"], described["type"]
    if not module.startswith(IMPERSONATED_MODULES) or module.startswith("hitlab.grading") or "<" in name:
        return None
    try:
        found: Any = importlib.import_module(module)
        for part in name.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    return found if isinstance(found, type) else None


class RemoteObject:
    """The stand-in for an object of the other side's (a function, an instance)."""

    __slots__ = ("__weakref__", "_hitlab_described", "_hitlab_remote")

    def __init__(self, peer: Peer, key: int, described: dict) -> None:
        object.__setattr__(self, "_hitlab_remote", (peer.codec, key, peer))
        object.__setattr__(self, "_hitlab_described", described)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _peer(self).call(self, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_hitlab"):
            raise AttributeError(name)
        if name == "__signature__":
            return _remote_signature(self)
        return _peer(self).request("getattr", target=_peer(self).codec.encode(self), name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        _peer(self).call(setattr, self, name, value)

    @property  # type: ignore[misc]
    def __class__(self):
        return _impersonated(object.__getattribute__(self, "_hitlab_described")) or RemoteObject


def _peer(proxy: Any) -> Peer:
    return object.__getattribute__(proxy, "_hitlab_remote")[2]


def _method(name: str):
    def forward(self, *args: Any) -> Any:
        peer = _peer(self)
        bound = peer.request("getattr", target=peer.codec.encode(self), name=name)
        return bound(*args)

    forward.__name__ = name
    return forward


for _name in METHODS:
    setattr(RemoteObject, _name, _method(_name))
RemoteObject.__iter__ = lambda self: iter(_peer(self).call(list, self))  # one round trip, not one per item
RemoteObject.__hash__ = lambda self: hash(_peer(self).call(hash, self))
RemoteObject.__bool__ = lambda self: bool(_peer(self).call(bool, self))
RemoteObject.__len__ = lambda self: int(_peer(self).call(len, self))
RemoteObject.__repr__ = lambda self: str(_peer(self).call(repr, self))
RemoteObject.__str__ = lambda self: str(_peer(self).call(str, self))


def _remote_signature(proxy: Any) -> inspect.Signature:
    peer = _peer(proxy)
    parameters = peer.request("signature", target=peer.codec.encode(proxy))
    try:
        return inspect.Signature(
            [
                inspect.Parameter(
                    str(name), inspect._ParameterKind(int(kind)), **({"default": ...} if has_default else {})
                )
                for name, kind, has_default in parameters
            ]
        )
    except (TypeError, ValueError) as err:
        raise ValueError(f"no readable signature: {err}") from None


class _RemoteClassMeta(type):
    """A proxy of a class is a class: calling it makes the object on the owner's side."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return _peer_of_class(cls).call(cls, *args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_hitlab") or name.startswith("__"):
            raise AttributeError(name)
        peer = _peer_of_class(cls)
        return peer.request("getattr", target=peer.codec.encode(cls), name=name)


def _peer_of_class(cls: type) -> Peer:
    return cls.__dict__["_hitlab_remote"][2]


def _remote_class(peer: Peer, key: int, described: dict) -> type:
    name = described["name"] or described["type"] or "RemoteClass"
    cls = _RemoteClassMeta(name.rsplit(".", 1)[-1], (), {
        "_hitlab_remote": (peer.codec, key, peer), "_hitlab_described": described,
        "__module__": described["module"] or "__main__",
    })  # fmt: skip
    cls.__signature__ = property(lambda self: _remote_signature(self))  # type: ignore[attr-defined]
    return cls


__all__ = ["Peer", "PeerGone", "RemoteObject", "RemoteStopped", "describe_object"]
