"""Each benchmark's section of docs/measurements.md, rewritten by the benchmark itself: `python bench/NAME.py
--record` runs it as usual and then puts what it printed into its section, with the command line and the date.

A section is everything between two markers, each on a line of its own:

    <!-- bench:NAME -->
    ... (rewritten by `python bench/NAME.py --record`) ...
    <!-- /bench:NAME -->

Recording rewrites that text and nothing else in the file: the explanation around a section (what the workload
is, what the columns mean) is written by hand and stays. A file whose markers for NAME are missing gets the
section appended at its end; markers that are duplicated, unpaired or out of order are refused before anything is
written. The file is replaced in one step (a temporary file renamed over it), so a failed or interrupted run leaves
it as it was.

A benchmark takes part with its last lines:

    if __name__ == "__main__":
        sys.exit(measurements.run("NAME", main))

:func:`run` takes ``--record`` (or ``--record=FILE``, another copy of the file) off the command line, runs
``main`` with the rest (as its ``argv`` argument when it takes one, else in ``sys.argv``), copies everything
``main`` prints on stdout (progress on stderr is not copied) and, when ``main`` returns 0 or None, records it.
Plain-text output goes in as a ``text`` code block; ``markdown=True`` pastes markdown output as it is, its
headings moved two levels down to sit under the section's own heading.
"""

import datetime
import inspect
import io
import os
import re
import shlex
import subprocess
import sys
import tempfile

__all__ = ["MEASUREMENTS", "SectionError", "begin_marker", "end_marker", "find_section", "section_names",
           "replace_section", "section_text", "record", "run"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEASUREMENTS = os.path.join(ROOT, "docs", "measurements.md")
_NAME = re.compile(r"[a-z0-9_]+")
_MARKER = re.compile(r"^<!-- (/?)bench:([a-z0-9_]+) -->$", re.M)


class SectionError(ValueError):
    """The markers of a section are missing, duplicated, unpaired or out of order."""


def begin_marker(name):
    return f"<!-- bench:{name} -->"


def end_marker(name):
    return f"<!-- /bench:{name} -->"


def section_names(text):
    """The names of the sections in `text`, in order (each begin marker once)."""
    return [m.group(2) for m in _MARKER.finditer(text) if not m.group(1)]


def find_section(text, name):
    """(start, end) of the body of section `name` in `text` (the text between its two marker lines), or None when
    neither marker is there. SectionError when the markers are not exactly one begin line followed by one end
    line."""
    if not _NAME.fullmatch(name):
        raise SectionError(f"bad section name {name!r} (lower case letters, digits and _)")
    begins = [m for m in _MARKER.finditer(text) if m.group(2) == name and not m.group(1)]
    ends = [m for m in _MARKER.finditer(text) if m.group(2) == name and m.group(1)]
    if not begins and not ends:
        return None
    if len(begins) != 1 or len(ends) != 1:
        raise SectionError(f"section {name!r}: {len(begins)} begin and {len(ends)} end markers (need one each)")
    if ends[0].start() < begins[0].end():
        raise SectionError(f"section {name!r}: its end marker comes before its begin marker")
    inner = _MARKER.search(text, begins[0].end(), ends[0].start())
    if inner:
        raise SectionError(f"section {name!r} holds another section's marker: {inner.group(0)}")
    return begins[0].end() + 1, ends[0].start()


def replace_section(text, name, body):
    """`text` with the body of section `name` replaced by `body` (a trailing newline added if missing); a
    section not there yet is appended at the end under a heading of its own."""
    body = body if body.endswith("\n") else body + "\n"
    where = find_section(text, name)
    if where is None:
        head = text if text.endswith("\n") or not text else text + "\n"
        return f"{head}\n## bench/{name}.py\n\n{begin_marker(name)}\n{body}{end_marker(name)}\n"
    start, end = where
    return text[:start] + body + text[end:]


def _commit():
    """The short commit of the work tree, with ", with local changes" when it differs; None outside git."""
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              timeout=30)
        if head.returncode:
            return None
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + (", with local changes" if dirty.stdout.strip() else "")


def _load():
    """The one-minute load average, or None where the system does not tell."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def section_text(name, output, args, *, markdown=False, date=None, commit=None, cpus=None, load=None):
    """The body of section `name`: how and when it was recorded (the commit, the CPUs and the load average when
    the run started: the machine may be shared), then the benchmark's output."""
    date = date or datetime.date.today().isoformat()
    command = shlex.join(["python", f"bench/{name}.py", *args])
    where = [f"commit {commit}"] if commit else []
    where.append(f"{cpus or os.cpu_count()} CPUs")
    if load is not None:
        where.append(f"load average {load:.1f} at the start")
    lines = [f"Recorded {date} by `{command} --record` ({'; '.join(where)}):", ""]
    output = output.strip("\n")
    if markdown:
        lines += [("##" + line) if line.startswith("#") else line for line in output.splitlines()]
    else:
        lines += ["```text", output, "```"]
    return "\n".join(lines) + "\n"


def _write(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".measurements-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        if os.path.exists(path):
            os.chmod(tmp, os.stat(path).st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def record(name, output, args, *, path=None, markdown=False, date=None, commit=None, load=None):
    """Write `output`, printed by `python bench/NAME.py ARGS`, into section `name` of `path` (default:
    docs/measurements.md); every other byte of the file stays as it was. Returns the path."""
    path = path or MEASUREMENTS
    text = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
    body = section_text(name, output, args, markdown=markdown, date=date, commit=commit or _commit(), load=load)
    _write(path, replace_section(text, name, body))
    return path


class _Tee(io.TextIOBase):
    """Writes go to `stream` and into `copy`."""

    def __init__(self, stream):
        self.stream, self.copy = stream, io.StringIO()

    def write(self, s):
        self.copy.write(s)
        return self.stream.write(s)

    def flush(self):
        self.stream.flush()

    def isatty(self):
        return self.stream.isatty()

    @property
    def encoding(self):
        return getattr(self.stream, "encoding", "utf-8")


def _split_record(argv):
    """(the arguments without --record, the file to record into or None)."""
    rest, path = [], None
    for arg in argv:
        if arg == "--record":
            path = MEASUREMENTS
        elif arg.startswith("--record="):
            path = arg.split("=", 1)[1] or MEASUREMENTS
        else:
            rest.append(arg)
    return rest, path


def run(name, main, argv=None, *, markdown=False):
    """Run a benchmark's `main` on `argv` (default: the command line) and, with --record, record its stdout into
    its section. Returns main's exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    rest, path = _split_record(argv)
    # A quick run checks that the benchmark works; its figures are no measurement (argparse takes --qu for --quick).
    if path and any(len(a) > 3 and "--quick".startswith(a) for a in rest):
        print(f"{name}.py: --quick is not recorded (its figures check that the benchmark runs; they are no "
              f"measurement): drop --record or --quick", file=sys.stderr)
        sys.exit(2)
    takes_argv = bool(inspect.signature(main).parameters)
    load = _load()
    tee = _Tee(sys.stdout) if path else None
    saved_argv, saved_stdout = sys.argv, sys.stdout
    try:
        if tee:
            sys.stdout = tee
        if takes_argv:
            status = main(rest)
        else:
            sys.argv = [saved_argv[0] if saved_argv else f"bench/{name}.py", *rest]
            status = main()
    except SystemExit as e:
        if e.code in (0, None) and ("-h" in rest or "--help" in rest):
            print(f"\n--record[=FILE]: also write this output into its section of docs/measurements.md "
                  f"(<!-- bench:{name} -->), with the command line and the date", file=saved_stdout)
        raise
    finally:
        sys.argv, sys.stdout = saved_argv, saved_stdout
    if path and status in (0, None):
        where = record(name, tee.copy.getvalue(), rest, path=path, markdown=markdown, load=load)
        print(f"recorded in {os.path.relpath(where)}, section bench:{name}", file=sys.stderr)
    return 0 if status is None else status
