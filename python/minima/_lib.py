"""The shared library through ctypes: finding it, declaring the functions the
package calls (those of minima/api.h and a few of minima/net.h and
minima/status.h), turning a failed status into minima.Error, running long
calls so that Ctrl-C stops them, and drawing progress on stderr.

No C structure is mirrored here: every handle is an opaque pointer
(c_void_p) and every array a pointer to a NumPy buffer."""

import ctypes
import ctypes.util
import os
import sys
import threading
import time

# minima_status (minima/status.h), by value.
STATUS_NAMES = (
    "OK", "EINVAL", "ENOMEM", "EIO", "EFORMAT", "ESHAPE", "ENONFINITE", "ERANGE",
    "EUNSUPPORTED", "ENOCONV", "EINTERRUPTED", "EFAILED",
)
EINTERRUPTED = STATUS_NAMES.index("EINTERRUPTED")
ENOCONV = STATUS_NAMES.index("ENOCONV")


class Error(Exception):
    """A library call failed. str(e) is the library's message (what was
    wrong, where); e.status is the status name ("EINVAL", "EFORMAT", ...),
    e.code its number and e.function the C function that failed. A result
    the call still produced (a spectrum stopped early) is e.partial, as a
    dict, else None."""

    def __init__(self, code, message, function=None, partial=None):
        self.code = int(code)
        self.status = STATUS_NAMES[code] if 0 <= code < len(STATUS_NAMES) else str(code)
        self.message = message
        self.function = function
        self.partial = partial
        super().__init__(message)


def _candidates():
    """Where the library may be, in the order tried."""
    env = os.environ.get("MINIMA_LIBRARY")
    if env:
        return [env]            # an explicit choice is the only one tried
    here = os.path.dirname(os.path.abspath(__file__))
    names = ["libminima.so", "libminima.dylib"]
    out = [os.path.join(here, n) for n in names]                  # installed beside the package
    repo = os.path.dirname(os.path.dirname(here))                 # python/minima -> repository
    for build in ("build", "build-asan"):
        out += [os.path.join(repo, build, n) for n in names]      # used in place after make
    found = ctypes.util.find_library("minima")                    # installed system-wide
    if found:
        out.append(found)
    return out


def _open():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path + " (absent)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError(
        "minima: libminima.so not found; build it with `make` in the repository, install "
        "the package with `pip install --no-build-isolation ./python` after `make`, or set "
        "MINIMA_LIBRARY to its path. Tried: " + "; ".join(tried))


lib, path = _open()

P = ctypes.c_void_p                     # handles and array pointers
S = ctypes.c_char_p
I = ctypes.c_int
Z = ctypes.c_size_t
PP = ctypes.POINTER(ctypes.c_void_p)    # an out-parameter: a handle or a char *

PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_double, ctypes.c_double, ctypes.c_void_p)

_SIGNATURES = {
    # status.h
    "minima_strerror": (ctypes.c_char_p, [I]),
    "minima_last_error": (ctypes.c_char_p, []),
    "minima_clear_error": (None, []),
    "minima_interrupt": (None, []),
    "minima_interrupted": (I, []),
    "minima_clear_interrupt": (None, []),
    "minima_set_progress": (None, [P, P]),
    # api.h
    "minima_api_free_string": (None, [P]),
    "minima_api_version": (ctypes.c_char_p, []),
    "minima_api_model_load": (I, [S, S, S, S, PP]),
    "minima_api_model_from_tensors": (I, [I, P, P, P, P, S, S, S, S, PP]),
    "minima_api_model_create": (I, [S, I, S, ctypes.c_uint64, PP]),
    "minima_api_model_save": (I, [P, S, S]),
    "minima_api_model_info": (I, [P, PP]),
    "minima_api_model_n_params": (Z, [P]),
    "minima_api_model_get_params": (I, [P, P]),
    "minima_api_model_set_params": (I, [P, P]),
    "minima_api_model_rescale": (I, [P, S, PP]),
    "minima_api_data_from_arrays": (I, [Z, I, P, P, I, P, I, PP]),
    "minima_api_data_load": (I, [S, S, Z, PP]),
    "minima_api_data_n": (Z, [P]),
    "minima_api_data_d": (I, [P]),
    "minima_api_problem": (I, [P, P, S, Z, PP]),
    "minima_api_spectrum": (I, [P, S, PP]),
    "minima_api_sharpness": (I, [P, S, S, ctypes.c_uint64, PP]),
    "minima_api_audit": (I, [P, S, S, S, PP]),
    # net.h
    "minima_net_free": (None, [P]),
    "minima_net_n_params": (Z, [P]),
    "minima_net_n_examples": (Z, [P]),
    "minima_net_set_point": (I, [P, P]),
    "minima_net_point": (P, [P]),
    "minima_net_loss": (I, [P, P, P, P]),
    "minima_net_gradient": (I, [P, P, P, P]),
    "minima_net_outputs": (I, [P, P, P]),
    "minima_net_hvp": (I, [P, P, P]),
    "minima_net_ggnvp": (I, [P, P, P]),
    "minima_net_hessian": (I, [P, P]),
    "minima_net_n_products": (Z, [P]),
    # the *_free functions of model.h and data.h
    "minima_model_free": (None, [P]),
    "minima_dataset_free": (None, [P]),
}


class _Missing:
    """A function this build of the library lacks: calling it says so."""

    def __init__(self, name):
        self.name = name

    def __call__(self, *args):
        raise Error(STATUS_NAMES.index("EUNSUPPORTED"),
                    "%s is not in %s (a library older than this package?)" % (self.name, path),
                    self.name)


class _Functions:
    pass


fn = _Functions()
for _name, (_res, _args) in _SIGNATURES.items():
    try:
        _f = getattr(lib, _name)
    except AttributeError:
        setattr(fn, _name[len("minima_"):], _Missing(_name))
        continue
    _f.restype = _res
    _f.argtypes = _args
    setattr(fn, _name[len("minima_"):], _f)


def text(s):
    """A Python str (or None) as the bytes a char * parameter takes."""
    if s is None:
        return None
    if isinstance(s, bytes):
        return s
    return os.fsencode(s) if isinstance(s, os.PathLike) else str(s).encode()


def last_message(code):
    """This thread's last library message, or the status's description."""
    m = fn.last_error()
    m = m.decode(errors="replace") if m else ""
    if not m:
        d = fn.strerror(code)
        m = d.decode(errors="replace") if d else "error %d" % code
    return m


def check(code, function):
    if code != 0:
        raise Error(code, last_message(code), function)


def take_string(ptr):
    """A char * the library allocated, as str, released."""
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode()
    finally:
        fn.api_free_string(ptr)


# ---- long calls: Ctrl-C and progress -------------------------------------

def run_long(call, function):
    """Runs call() -> status code in a worker thread and waits for it in this
    one, so that Ctrl-C reaches Python while the library computes.

    ctypes releases the GIL during a foreign call, but the interpreter runs
    a Python signal handler only between bytecodes of the main thread: a
    SIGINT during a call made directly would wait until the call returns.
    Here the main thread waits on an Event, which a signal interrupts;
    KeyboardInterrupt then calls minima_interrupt() (the library's own
    async-signal-safe flag), the computation stops at its next check with
    EINTERRUPTED, and KeyboardInterrupt is raised again once the worker has
    returned, with every handle intact. The library's messages are per
    thread, so the worker reads its own. Returns (code, message)."""
    if threading.current_thread() is not threading.main_thread():
        fn.clear_interrupt()
        code = call()
        return code, (last_message(code) if code else "")
    box = {}
    done = threading.Event()

    def work():
        try:
            c = call()
            box["result"] = (c, last_message(c) if c else "")
        except BaseException as e:          # a ctypes argument error, say
            box["error"] = e
        finally:
            done.set()

    # An Event, not Thread.join: a KeyboardInterrupt that lands inside
    # join() can leave is_alive() false while the thread still runs, and a
    # process that exits with the library mid-computation in a thread can
    # hang in OpenBLAS's exit handler.
    fn.clear_interrupt()
    t = threading.Thread(target=work, name="minima " + function, daemon=True)
    t.start()
    try:
        while not done.wait(0.25):
            pass
    except KeyboardInterrupt:
        fn.interrupt()
        while True:                          # the computation stops at its next check
            try:
                if done.wait(0.25):
                    break
            except KeyboardInterrupt:
                fn.interrupt()
        t.join()
        fn.clear_interrupt()
        _progress_end()
        raise
    t.join()
    if "error" in box:
        _progress_end()                      # a task the failure left unfinished
        raise box["error"]
    return box["result"]


class _Progress:
    """The command-line program's progress report, in Python: a bar redrawn
    in place when stderr is a terminal, else plain lines when a task starts,
    every 15 s and when an announced task finishes."""
    PLAIN_EVERY = 15.0

    def __init__(self):
        self.task = None
        self.start = 0.0
        self.last_draw = 0.0
        self.announced = False
        self.last_line = -1e300
        self.open_bar = False
        # the announced tasks that have not finished, outermost first, as
        # [name, start, done]: a long task (the audit) hands over to sub-tasks
        # (Lanczos) and comes back, with its count where it was, which is no
        # new start; a task that ended without saying so is dropped when one
        # of its name starts again from a lower count
        self.open = []

    def __call__(self, task, done, total, user):
        try:
            self.report(task.decode(errors="replace") if task else "", done, total)
        except Exception:                   # never raise through C
            pass

    def report(self, task, done, total):
        err = sys.stderr
        if err is None:
            return
        now = time.monotonic()
        tty = hasattr(err, "isatty") and err.isatty()
        finished = total > 0 and done >= total
        at = self._find(task)
        if task != self.task:
            self.task, self.start, self.last_draw, self.announced = task, now, 0.0, False
            if not tty and at is not None and done >= self.open[at][2]:
                self.start, self.announced = self.open[at][1], True   # back from a sub-task
                del self.open[at + 1:]
            elif not tty:
                if at is not None:              # it ended unannounced: a new run
                    del self.open[at:]
                if now - self.last_line >= 1.0:
                    err.write("progress: %s: started\n" % task)
                    self.announced, self.last_line = True, now
                    self.open = (self.open + [[task, now, done]])[-4:]
            at = self._find(task)
        if at is not None:
            self.open[at][2] = done
        elapsed = now - self.start
        if tty:
            if not finished and now - self.last_draw < 0.1:
                return
            self.last_draw = now
            frac = min(done / total, 1.0) if total > 0 else 0.0
            bar = "#" * int(frac * 30) + "." * (30 - int(frac * 30))
            left = elapsed * (1 - frac) / frac if frac > 0.001 else 0.0
            err.write("\r\033[K%-22.22s [%s] %5.1f%%  %.0fs elapsed, ~%.0fs left"
                      % (task, bar, 100 * frac, elapsed, left))
            self.open_bar = not finished
            if finished:
                err.write("\n")
                self.task = None
        elif finished:
            if self.announced:
                err.write("progress: %s: finished in %.1f s\n" % (task, elapsed))
                self.last_line = now
            if at is not None:
                del self.open[at:]
            self.task = None
        elif now - self.last_line >= self.PLAIN_EVERY:
            err.write("progress: %s: %.0f of %.0f (%.1f%%) after %.0f s, %.3g per s\n"
                      % (task, done, total, 100 * done / total if total > 0 else 0.0, elapsed,
                         done / elapsed if elapsed > 0 else 0.0))
            self.announced, self.last_line = True, now
        err.flush()

    def _find(self, task):
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i][0] == task:
                return i
        return None

    def end(self):
        """Ends a bar left open by an interrupted task."""
        if self.open_bar and sys.stderr is not None:
            sys.stderr.write("\n")
            sys.stderr.flush()
        self.open_bar = False
        self.task = None
        self.open = []


_progress_callback = None      # the CFUNCTYPE object, kept alive while installed
_progress_state = None


def set_progress(report):
    """report: True (the default: the command line's progress on stderr),
    False/None (silent), or a callable report(task, done, total) called from
    the computing thread."""
    global _progress_callback, _progress_state
    if report is True:
        _progress_state = _Progress()
        _progress_callback = PROGRESS_FN(_progress_state)
    elif report:
        user_fn = report

        def call(task, done, total, user):
            try:
                user_fn(task.decode(errors="replace") if task else "", done, total)
            except Exception:
                pass
        _progress_state = None
        _progress_callback = PROGRESS_FN(call)
    else:
        _progress_state = None
        _progress_callback = None
    fn.set_progress(ctypes.cast(_progress_callback, ctypes.c_void_p) if _progress_callback else None,
                    None)


def _progress_end():
    if _progress_state is not None:
        _progress_state.end()


_quiet = os.environ.get("MINIMA_NO_PROGRESS")
set_progress(not (_quiet and _quiet != "0"))


class Handle:
    """A library object owned by Python: released by close(), at the end of
    a with statement, or when garbage-collected. A subclass names its kind
    and the fn.* that frees it; Model and Data keep the Problems that use
    them in `_users` and refuse to close under them."""
    _kind = "object"
    _free = None
    _h = None

    def close(self):
        """Releases the object now."""
        if self._h:
            users = getattr(self, "_users", ())
            if len(users):
                raise Error(STATUS_NAMES.index("EINVAL"),
                            "%s.close: %d live Problem(s) use this %s; close them first"
                            % (self._kind, len(users), self._kind.lower()), self._kind + ".close")
            getattr(fn, self._free)(self._h)
            self._h = None

    def __del__(self):
        h = self._h
        if h:
            try:
                getattr(fn, self._free)(h)
            except Exception:
                pass
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def handle(self):
        """The library's pointer (a ctypes.c_void_p)."""
        if not self._h:
            raise Error(STATUS_NAMES.index("EINVAL"), "this %s was closed" % self._kind, self._kind)
        return self._h
